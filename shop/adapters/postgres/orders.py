"""Orders in PostgreSQL (`db.orders`): the checkout protocol's side of an order (docs/checkout.md),
reading orders, the queries recovery runs, and the unit of work every later change of an order goes
through: `with db.orders.locked(order_id) as locked:` holds the row lock for the block and offers
what may be done under it (shop.adapters.postgres.locked_order: `set_status`, `record_payment`,
`record_refund`, …). No cursor leaves these modules.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator
from decimal import Decimal

from shop.adapters.postgres.discounts import take_discount_use
from shop.adapters.postgres.errors import translates_errors
from shop.adapters.postgres.locked_order import LockedOrder
from shop.adapters.postgres.locks import ADDRESS_LOCK_CLASS as _ADDRESS_LOCK_CLASS
from shop.adapters.postgres.locks import BACKUP_FENCE_KEY
from shop.adapters.postgres.payment_rows import payment_of
from shop.domain.invoicing import InvoiceParty
from shop.domain.order_effects import Reason, effects_of
from shop.domain.orders import (
    CreditNote,
    HeldUnpaid,
    Invoice,
    Order,
    OrderItem,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentStatus,
    Placing,
    StatusChange,
)
from shop.domain.shipping import ShippingSnapshot


@translates_errors
class Orders:
    def __init__(self, db):
        self._db = db

    def create_placing(self, user_id: int, idempotency_key: str, request_hash: str,
                       lease_seconds: int, *, units: int = 0, placed_from: str | None = None,
                       admit: Callable[[HeldUnpaid], None] | None = None,
                       lock_address: bool = True, discount_code: str | None = None) -> Placing:
        """Step 1: the order in its in-flight state (its lines are written with the decision).

        Returns the order, whether this call created it, and the discount code's use it took; when
        this user already used the idempotency key nothing is written and the earlier order returns.
        Without `admit`, one statement (one round trip). With it, the account's row (and the client
        address) is locked first, what they already hold unpaid is counted and handed to `admit`,
        which raises to refuse: two checkouts of one
        account or address are counted one after the other, never both against the same total.
        `lock_address=False` (no per-address limit) skips the address lock, which serialises every
        checkout from one address — all of them, behind a proxy that is not declared (TRUSTED_PROXIES).
        """
        insert = """WITH new_order AS (
                       INSERT INTO orders (user_id, total_amount, status, idempotency_key, request_hash,
                                           lease_until, units, placed_from)
                       VALUES (%s, 0, 'placing', %s, %s, clock_timestamp() + make_interval(secs => %s), %s, %s)
                       ON CONFLICT (user_id, idempotency_key) DO NOTHING
                       RETURNING *),
                   history AS (
                       INSERT INTO order_status_history (order_id, from_status, to_status, reason, reason_code)
                       SELECT order_id, NULL, 'placing', 'checkout started', 'checkout_started' FROM new_order)
                   SELECT * FROM new_order"""
        values = (user_id, idempotency_key, request_hash, lease_seconds, units, placed_from)
        if admit is None and discount_code is None:
            with self._db.statement() as cur:
                cur.execute(insert, values)
                order = cur.fetchone()
        else:
            with self._db.transaction() as cur:
                replay = False
                if admit is not None:
                    # The address lock (when there is one) comes before the account row in every
                    # checkout, so two checkouts never wait for each other in opposite orders.
                    if placed_from is not None and lock_address:
                        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                                    (_ADDRESS_LOCK_CLASS, placed_from))
                    cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
                    cur.execute(
                        """SELECT EXISTS (SELECT FROM orders WHERE user_id = %(user)s AND idempotency_key = %(key)s)
                                      AS replay,
                                  count(*) FILTER (WHERE user_id = %(user)s) AS account_orders,
                                  coalesce(sum(units) FILTER (WHERE user_id = %(user)s), 0) AS account_units,
                                  count(*) FILTER (WHERE placed_from = %(address)s) AS address_orders,
                                  coalesce(sum(units) FILTER (WHERE placed_from = %(address)s), 0) AS address_units
                           FROM orders
                           WHERE status IN ('placing', 'pending')
                             AND (user_id = %(user)s OR placed_from = %(address)s)""",
                        {"user": user_id, "key": idempotency_key, "address": placed_from})
                    held = cur.fetchone()
                    replay = held["replay"]
                    if not replay:
                        admit(HeldUnpaid(held["account_orders"], int(held["account_units"]),
                                         held["address_orders"], int(held["address_units"])))
                order = None
                if not replay:
                    cur.execute(insert, values)
                    order = cur.fetchone()
                if order is not None and discount_code is not None:
                    # The code's use belongs to this order from the start (docs/money.md): taken in
                    # the transaction that creates it, or refused and nothing is created.
                    discount = take_discount_use(cur, discount_code, order["order_id"], user_id)
                    return Placing(order_of({**order, "discount_code": discount_code}), True, discount)
        if order is not None:
            return Placing(order_of(order), True)
        earlier = self.by_idempotency_key(user_id, idempotency_key)
        if earlier is None:  # the insert found this key taken, so its order exists (orders are never deleted)
            raise LookupError(f"no order of user {user_id} has the idempotency key it conflicts with")
        return Placing(earlier, False)


    def decide_placing(self, order_id: int, outcome: OrderStatus, reason: str | None = None,
                       lines: list[OrderLine] | None = None, pending_ttl_minutes: int = 30,
                       changed_by: int | None = None, shipping: ShippingSnapshot | None = None,
                       reason_code: Reason | None = None, stock_low: list[dict[str, object]] | None = None,
                       invoice_party: InvoiceParty | None = None) -> bool:
        """The decision point: move an order out of `placing`, if nobody else has yet.

        True means this caller decided the order; False means it had already been decided (by the
        checkout or by recovery). A commit writes the lines as sold, the total, the history and its
        effects (the "placed" mail; a failure releases the discount code's use), and removes the
        ordered products from the customer's cart — all in one atomic statement. `reason_code`:
        `placed` for a commit, `checkout_failed` by default for a failure. `stock_low`: the payloads
        of the `stock.low` events this sale causes, written with a commit only.
        """
        lines = lines or []
        if reason_code is None:
            reason_code = Reason.PLACED if outcome is OrderStatus.PENDING else Reason.CHECKOUT_FAILED
        effects = effects_of(OrderStatus.PLACING, outcome, reason_code)
        total = sum((line.subtotal for line in lines), Decimal("0.00")) + (shipping.amount if shipping else 0)
        # Only the effects this decision has are in the statement (a smaller statement to plan).
        effect_parts = []
        if effects.mail is not None:
            effect_parts.append("""mail AS (
                       INSERT INTO mail_outbox (kind, order_id, to_address, language)
                       SELECT %(mail)s, d.order_id, u.email, u.language
                       FROM decided d JOIN users u USING (user_id)),""")
        if effects.event is not None:
            # The statement's other writes are not visible to it: the event is built from its inputs.
            effect_parts.append("""event AS (
                       INSERT INTO webhook_events (type, payload)
                       SELECT %(event)s, jsonb_build_object(
                           'order_id', d.order_id, 'status', %(outcome)s, 'customer_id', d.user_id,
                           'total', %(total)s::numeric::text, 'refunded', '0.00', 'currency', 'EUR',
                           'refund_id', NULL, 'carrier', NULL, 'tracking_number', NULL,
                           'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                         'product_id', l.product_id, 'sku', l.sku, 'name', l.product_name,
                                         'variant', l.variant_label, 'quantity', l.quantity,
                                         'unit_price', l.unit_price::text) ORDER BY l.n), '[]'::jsonb)
                                     FROM unnest(%(ids)s::text[], %(names)s::text[], %(prices)s::numeric[],
                                                 %(qtys)s::int[], %(skus)s::text[], %(labels)s::text[])
                                          WITH ORDINALITY AS l(product_id, product_name, unit_price, quantity, sku,
                                                               variant_label, n)))
                       FROM decided d
                       WHERE EXISTS (SELECT FROM webhook_endpoints w WHERE w.active AND %(event)s = ANY (w.events))
                       RETURNING event_id, type),
                   event_deliveries AS (
                       INSERT INTO webhook_deliveries (event_id, endpoint_id)
                       SELECT e.event_id, w.endpoint_id FROM event e
                       JOIN webhook_endpoints w ON w.active AND e.type = ANY (w.events)),""")
        if stock_low and outcome is OrderStatus.PENDING:
            effect_parts.append("""low AS (
                       INSERT INTO webhook_events (type, payload)
                       SELECT 'stock.low', low.payload FROM decided d, unnest(%(stock_low)s::jsonb[]) AS low(payload)
                       WHERE EXISTS (SELECT FROM webhook_endpoints w WHERE w.active AND 'stock.low' = ANY (w.events))
                       RETURNING event_id, type),
                   low_deliveries AS (
                       INSERT INTO webhook_deliveries (event_id, endpoint_id)
                       SELECT e.event_id, w.endpoint_id FROM low e
                       JOIN webhook_endpoints w ON w.active AND e.type = ANY (w.events)),""")
        if effects.release_discount_use:
            effect_parts.append("""released AS (
                       UPDATE discount_uses SET released_at = now() FROM decided d
                       WHERE discount_uses.order_id = d.order_id AND released_at IS NULL RETURNING code),
                   given_back AS (
                       UPDATE discount_codes c SET uses = c.uses - 1 FROM released WHERE c.code = released.code),""")
        with self._db.statement() as cur:
            cur.execute(
                """WITH fence AS (SELECT pg_advisory_xact_lock_shared(%(fence)s)),
                   decided AS (
                       UPDATE orders
                       SET status = %(outcome)s, lease_until = NULL, failure_reason = %(reason)s,
                           total_amount = %(total)s, shipping_address = %(ship_to)s::jsonb,
                           shipping_method = %(ship_by)s, shipping_amount = %(ship_amount)s,
                           shipping_tax = %(ship_tax)s, shipping_tax_rate = %(ship_rate)s,
                           shipping_taxes = %(ship_parts)s::jsonb,
                           invoice_party = %(party)s::jsonb,
                           expires_at = CASE WHEN %(outcome)s = 'pending'
                                             THEN now() + make_interval(mins => %(ttl)s) END
                       WHERE order_id = %(order_id)s AND status = 'placing' AND EXISTS (SELECT FROM fence)
                       RETURNING order_id, user_id),
                   items AS (
                       INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity,
                                                tax_rate, tax_amount, discount_amount, variant_key, sku,
                                                variant_label)
                       SELECT d.order_id, l.product_id, l.product_name, l.unit_price, l.quantity, l.rate, l.tax,
                              l.discount, l.variant_key, l.sku, l.variant_label
                       FROM decided d,
                            unnest(%(ids)s::text[], %(names)s::text[], %(prices)s::numeric[], %(qtys)s::int[],
                                   %(rates)s::numeric[], %(taxes)s::numeric[], %(discounts)s::numeric[],
                                   %(variants)s::text[], %(skus)s::text[], %(labels)s::text[])
                              AS l(product_id, product_name, unit_price, quantity, rate, tax, discount,
                                   variant_key, sku, variant_label)),
                   history AS (
                       INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason,
                                                         reason_code)
                       SELECT order_id, 'placing', %(outcome)s, %(changed_by)s, %(reason)s, %(reason_code)s
                       FROM decided),
                   {effects}
                   cart AS (
                       DELETE FROM cart_items c USING decided d,
                           unnest(%(ids)s::text[], %(variants)s::text[]) AS bought(product_id, variant_key)
                       WHERE %(outcome)s = 'pending' AND c.user_id = d.user_id
                         AND c.product_id = bought.product_id AND c.variant_key = bought.variant_key)
                   SELECT user_id FROM decided""".replace("{effects}", "\n                   ".join(effect_parts)),
                {"fence": BACKUP_FENCE_KEY, "outcome": outcome.value, "reason": reason, "total": total,
                 "reason_code": reason_code.value, "mail": effects.mail.value if effects.mail else None,
                 "event": effects.event, "stock_low": [json.dumps(payload) for payload in stock_low or ()],
                 "ship_to": json.dumps(shipping.address) if shipping else None,
                 "ship_by": shipping.method if shipping else None, "ship_amount": shipping.amount if shipping else 0,
                 "ship_tax": shipping.tax if shipping else 0, "ship_rate": shipping.rate if shipping else None,
                 "party": json.dumps(invoice_party.snapshot()) if invoice_party else None,
                 "ship_parts": json.dumps([[str(rate), str(gross), str(tax)] for rate, gross, tax in shipping.parts])
                 if shipping and len(shipping.parts) > 1 else None,
                 "ttl": pending_ttl_minutes,
                 "order_id": order_id, "changed_by": changed_by,
                 "ids": [ln.product_id for ln in lines], "names": [ln.product_name for ln in lines],
                 "prices": [ln.unit_price for ln in lines], "qtys": [ln.quantity for ln in lines],
                 "rates": [ln.tax_rate for ln in lines], "taxes": [ln.tax_amount for ln in lines],
                 "discounts": [ln.discount_amount for ln in lines],
                 "variants": [ln.variant or "" for ln in lines], "skus": [ln.sku for ln in lines],
                 "labels": [ln.variant_label for ln in lines]},
            )
            return cur.fetchone() is not None


    def has_bought(self, user_id: int, product_id: str) -> bool:
        """Whether the user has a paid (or shipped) order with this product."""
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT EXISTS (SELECT FROM order_items i JOIN orders o USING (order_id)
                                  WHERE o.user_id = %s AND i.product_id = %s AND o.status IN ('paid', 'shipped'))
                   AS bought""", (user_id, product_id))
            return cur.fetchone()["bought"]


    def by_idempotency_key(self, user_id: int, idempotency_key: str) -> Order | None:
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM orders WHERE user_id = %s AND idempotency_key = %s", (user_id, idempotency_key))
            row = cur.fetchone()
            return order_of(row) if row else None


    def items(self, order_id: int) -> list[OrderItem]:
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM order_items WHERE order_id = %s ORDER BY product_id, variant_key", (order_id,))
            return [_item(row) for row in cur.fetchall()]


    def get(self, order_id: int) -> Order | None:
        """An order with its items, status history, payments and invoice."""
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM orders WHERE order_id = %s", (order_id,))
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute("SELECT * FROM order_items WHERE order_id = %s ORDER BY order_item_id", (order_id,))
            items = tuple(_item(item) for item in cur.fetchall())
            cur.execute(
                """SELECT h.*, u.full_name AS changed_by_name FROM order_status_history h
                   LEFT JOIN users u ON u.user_id = h.changed_by
                   WHERE h.order_id = %s ORDER BY h.history_id""", (order_id,))
            history = tuple(_status_change(change) for change in cur.fetchall())
            cur.execute("SELECT * FROM payments WHERE order_id = %s ORDER BY payment_id", (order_id,))
            payments = tuple(_payment(payment) for payment in cur.fetchall())
            cur.execute("SELECT series, series_year, number, issued_at, party FROM invoices WHERE order_id = %s",
                        (order_id,))
            found = cur.fetchone()
            invoice = Invoice(**{**found, "party": InvoiceParty.from_snapshot(found["party"]) if found["party"]
                                 else None}) if found else None
            credit_notes: tuple[CreditNote, ...] = ()
            if invoice is not None:
                cur.execute("""SELECT series_year, number, issued_at, refund_id, reason_code, reason, amount, taxes
                               FROM credit_notes WHERE order_id = %s ORDER BY series_year, number""", (order_id,))
                credit_notes = tuple(
                    CreditNote(**{**note, "invoice": invoice, "taxes": tuple(
                        (Decimal(rate), Decimal(base), Decimal(tax)) for rate, base, tax in note["taxes"])})
                    for note in cur.fetchall())
            return order_of(row, items=items, history=history, payments=payments, invoice=invoice,
                            credit_notes=credit_notes)


    def of_user(self, user_id: int, limit: int = 100, include_failed: bool = False) -> list[Order]:
        """The user's orders, newest first, each with its items (failed attempts only if asked)."""
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT * FROM orders WHERE user_id = %s AND (%s OR status <> 'failed')
                   ORDER BY created_at DESC, order_id DESC LIMIT %s""",
                (user_id, include_failed, limit),
            )
            rows = list(cur.fetchall())
            items: dict[int, list[OrderItem]] = {}
            if rows:
                cur.execute("SELECT * FROM order_items WHERE order_id = ANY(%s) ORDER BY order_item_id",
                            ([row["order_id"] for row in rows],))
                for item in cur.fetchall():
                    items.setdefault(item["order_id"], []).append(_item(item))
            return [order_of(row, items=tuple(items.get(row["order_id"], ()))) for row in rows]


    def mark_stock_returned(self, order_id: int) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE orders SET stock_returned = TRUE WHERE order_id = %s AND status = 'cancelled'",
                        (order_id,))


    def with_expired_lease(self, limit: int = 100) -> list[int]:
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'placing' AND lease_until < clock_timestamp()
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]


    def unpaid_expired(self, limit: int = 100) -> list[int]:
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'pending' AND expires_at < now()
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]


    def cancelled_awaiting_stock(self, limit: int = 100) -> list[int]:
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT order_id FROM orders WHERE status = 'cancelled' AND NOT stock_returned
                   ORDER BY order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]


    def states(self, order_ids: list[int]) -> dict[int, tuple[OrderStatus, bool]]:
        """Status and stock_returned of each order (missing orders are absent)."""
        if not order_ids:
            return {}
        with self._db.transaction() as cur:
            cur.execute("SELECT order_id, status, stock_returned FROM orders WHERE order_id = ANY(%s)",
                        (list(order_ids),))
            return {r["order_id"]: (OrderStatus(r["status"]), r["stock_returned"]) for r in cur.fetchall()}


    def payment_attempt(self, method: str, provider_order: str) -> Payment | None:
        """The attempt a provider's notification names (its number at that provider)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM payments WHERE method = %s AND provider_order = %s", (method, provider_order))
            row = cur.fetchone()
            return payment_of(row) if row else None

    def payments_waiting(self, status: PaymentStatus, older_than_minutes: int = 0, limit: int = 500) -> list[Payment]:
        """Attempts still `pending` (no notification yet) or `orphaned` (money to give back), oldest first."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT * FROM payments WHERE status = %s
                             AND created_at <= now() - make_interval(mins => %s)
                           ORDER BY created_at, payment_id LIMIT %s""",
                        (PaymentStatus(status).value, older_than_minutes, limit))
            return [payment_of(row) for row in cur.fetchall()]

    def paid_orders_without_payment(self, limit: int = 500) -> list[int]:
        """Orders paid (or later) with something to charge, but no succeeded payment row: an order the
        shop delivers without money it can point to (manual payments are rows too)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT o.order_id FROM orders o
                           WHERE o.status IN ('paid', 'shipped', 'partially_refunded', 'refunded')
                             AND o.total_amount > 0
                             AND NOT EXISTS (SELECT FROM payments p WHERE p.order_id = o.order_id
                                                                      AND p.status = 'succeeded')
                           ORDER BY o.order_id LIMIT %s""", (limit,))
            return [row["order_id"] for row in cur.fetchall()]

    @contextlib.contextmanager
    def locked(self, order_id: int, *, account: int | None = None) -> Iterator[LockedOrder]:
        """The order row under SELECT … FOR UPDATE: concurrent pay/cancel/ship/expire/refund queue here.

        With `account`, that user's row is locked first (payments count attempts per account). The
        order is always: account, then order — nothing locks an order and then an account. Every
        change also takes the backup fence in shared mode (docs/backup.md).
        """
        with self._db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", (BACKUP_FENCE_KEY,))
            if account is not None:
                cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (account,))
            cur.execute("SELECT * FROM orders WHERE order_id = %s FOR UPDATE", (order_id,))
            row = cur.fetchone()
            yield LockedOrder(cur, order_of(row) if row else None)


# --- rows to the domain's Order (the one place statuses become enums) ------------------------------

_ORDER_FIELDS = frozenset(f.name for f in dataclasses.fields(Order)) - {"items", "history", "payments", "invoice",
                                                                        "credit_notes",
                                                                        "shipping"}
_ITEM_FIELDS = frozenset(f.name for f in dataclasses.fields(OrderItem))


def order_of(row: dict, **parts) -> Order:
    """An `orders` row (and, by keyword, its items, history, payments, invoice) as an Order."""
    fields = {name: value for name, value in row.items() if name in _ORDER_FIELDS}
    shipping = None
    if row.get("shipping_method") is not None:
        shipped = tuple((Decimal(rate), Decimal(gross), Decimal(tax))
                      for rate, gross, tax in row.get("shipping_taxes") or ())
        shipping = ShippingSnapshot(row["shipping_address"], row["shipping_method"], row["shipping_amount"],
                                    row["shipping_tax"], row["shipping_tax_rate"], shipped)
    return Order(**{**fields, "status": OrderStatus(row["status"])}, shipping=shipping, **parts)


def _item(row: dict) -> OrderItem:
    return OrderItem(**{name: value for name, value in row.items() if name in _ITEM_FIELDS},
                     variant=row.get("variant_key") or None)


def _status_change(row: dict) -> StatusChange:
    return StatusChange(from_status=OrderStatus(row["from_status"]) if row["from_status"] else None,
                        to_status=OrderStatus(row["to_status"]), created_at=row["created_at"],
                        changed_by=row["changed_by"], changed_by_name=row["changed_by_name"], reason=row["reason"])


def _payment(row: dict) -> Payment:
    return payment_of(row)
