"""Refunds in PostgreSQL (database/postgres/0011_refunds.sql): written under the order's row lock."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from shop.adapters.postgres import invoice_records
from shop.adapters.postgres.errors import translates_errors
from shop.adapters.postgres.payment_rows import payment_of
from shop.domain.orders import Payment, credit_note_reason_code
from shop.domain.refunds import Refund, RefundableLine, RefundedTotals, RefundLine, RestockLine
from shop.domain.taxes import credit_note_taxes

_REFUND_FIELDS = ("refund_id", "order_id", "amount", "reason", "goods_returned", "stock_returned", "created_at",
                  "payment_id", "provider_reference", "created_by")


def _refund(row: dict[str, Any], lines: tuple[RefundLine, ...] = ()) -> Refund:
    return Refund(**{name: row[name] for name in _REFUND_FIELDS}, created_by_name=row.get("created_by_name"),
                  lines=lines)


def refundable_lines(cur, order_id: int) -> list[RefundableLine]:
    """Under `db.orders.locked` (LockedOrder.refundable_lines): each line with what was paid for it
    and what is already refunded."""
    cur.execute("""SELECT order_item_id, quantity, refunded_quantity, unit_price * quantity - discount_amount AS paid
                   FROM order_items WHERE order_id = %s ORDER BY order_item_id""", (order_id,))
    return [RefundableLine(**row) for row in cur.fetchall()]


def refund_by_key(cur: Any, idempotency_key: str) -> Refund | None:
    cur.execute("SELECT * FROM refunds WHERE idempotency_key = %s", (idempotency_key,))
    row = cur.fetchone()
    return _refund(row) if row else None


def record_refund(cur, order_id: int, payment_id: int | None, amounts: dict[int, tuple[int, Decimal]],
                  reason: str, goods_returned: bool, idempotency_key: str, provider_reference: str | None,
                  created_by: int, shipping: Decimal = Decimal("0.00")) -> RefundedTotals:
    """Under `db.orders.locked` (LockedOrder.record_refund): the refund, its lines (and `shipping`
    given back), and the order's and lines' refunded totals (the CHECKs on those totals refuse an
    over-refund even if the caller's arithmetic were wrong)."""
    total = sum((money for _, money in amounts.values()), Decimal("0.00")) + shipping
    # The daily sales figures lose what the refund gives back (its lines and any shipping), on the
    # day the order was placed, where its sale was counted (shop.adapters.postgres.order_effects).
    cur.execute("""UPDATE sales_daily SET revenue = revenue - %s
                   WHERE day = (SELECT (created_at AT TIME ZONE 'UTC')::date FROM orders WHERE order_id = %s)""",
                (total, order_id))
    cur.execute("""INSERT INTO refunds (order_id, payment_id, amount, reason, goods_returned, idempotency_key,
                                        provider_reference, created_by)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING refund_id""",
                (order_id, payment_id, total, reason, goods_returned, idempotency_key, provider_reference, created_by))
    refund_id = cur.fetchone()["refund_id"]
    ids = sorted(amounts)
    if not ids:
        cur.execute("UPDATE orders SET refunded_amount = refunded_amount + %s, shipping_refunded = TRUE "
                    "WHERE order_id = %s RETURNING refunded_amount, total_amount", (total, order_id))
        totals = RefundedTotals(refund_id, **cur.fetchone())
        _issue_credit_note(cur, order_id, refund_id, reason, total, shipping)
        return totals
    cur.execute("""INSERT INTO refund_lines (refund_id, order_item_id, quantity, amount)
                   SELECT %s, l.item, l.units, l.money
                   FROM unnest(%s::int[], %s::int[], %s::numeric[]) AS l (item, units, money)""",
                (refund_id, ids, [amounts[i][0] for i in ids], [amounts[i][1] for i in ids]))
    cur.execute("""UPDATE order_items i SET refunded_quantity = i.refunded_quantity + l.units
                   FROM unnest(%s::int[], %s::int[]) AS l (item, units) WHERE i.order_item_id = l.item""",
                (ids, [amounts[i][0] for i in ids]))
    cur.execute("""UPDATE product_sales_daily p SET units = p.units - l.units, revenue = p.revenue - l.money
                   FROM (SELECT i.product_id, sum(x.units) AS units, sum(x.money) AS money
                         FROM unnest(%s::int[], %s::int[], %s::numeric[]) AS x (item, units, money)
                         JOIN order_items i ON i.order_item_id = x.item GROUP BY i.product_id) AS l,
                        (SELECT (created_at AT TIME ZONE 'UTC')::date AS day FROM orders WHERE order_id = %s) AS o
                   WHERE p.day = o.day AND p.product_id = l.product_id""",
                (ids, [amounts[i][0] for i in ids], [amounts[i][1] for i in ids], order_id))
    cur.execute("UPDATE orders SET refunded_amount = refunded_amount + %s, "
                "shipping_refunded = shipping_refunded OR %s WHERE order_id = %s RETURNING "
                "refunded_amount, total_amount", (total, shipping > 0, order_id))
    totals = RefundedTotals(refund_id, **cur.fetchone())
    _issue_credit_note(cur, order_id, refund_id, reason, total, shipping)
    return totals


# The credit note's number comes from its own yearly series, taken under the series row's lock like
# an invoice's (shop.adapters.postgres.order_effects): gapless, since a refund that rolls back gives
# its number back. Nothing is issued for an order without an invoice.
_ISSUE_CREDIT_NOTE = """
    WITH issued AS (SELECT coalesce(%(at)s::timestamptz, now()) AS at),
    invoice AS (SELECT invoice_id FROM invoices WHERE order_id = %(order)s),
    series AS (
        INSERT INTO credit_note_series AS s (year, last_number)
        SELECT extract(year FROM issued.at AT TIME ZONE %(time_zone)s), 1 FROM issued, invoice
        ON CONFLICT (year) DO UPDATE SET last_number = s.last_number + 1
        RETURNING year, last_number)
    INSERT INTO credit_notes (refund_id, order_id, invoice_id, series_year, number, issued_at, reason_code, reason,
                              amount, taxes)
    SELECT %(refund)s, %(order)s, invoice.invoice_id, year, last_number, issued.at, %(code)s, %(reason)s,
           %(amount)s, %(taxes)s::jsonb
    FROM series, issued, invoice"""


def _issue_credit_note(cur: Any, order_id: int, refund_id: int, reason: str, total: Decimal,
                       shipping: Decimal) -> None:
    """The refund's factura rectificativa: what it gives back per IVA rate (its lines at their rates,
    the shipping at the rates it was charged at), negative."""
    cur.execute("""SELECT i.tax_rate, l.amount FROM refund_lines l JOIN order_items i USING (order_item_id)
                   WHERE l.refund_id = %s AND i.tax_rate IS NOT NULL""", (refund_id,))
    given_back = [(row["tax_rate"], row["amount"]) for row in cur.fetchall()]
    if shipping:
        cur.execute("SELECT shipping_taxes, shipping_tax_rate FROM orders WHERE order_id = %s", (order_id,))
        row = cur.fetchone()
        if row["shipping_taxes"]:
            given_back += [(Decimal(rate), Decimal(gross)) for rate, gross, _ in row["shipping_taxes"]]
        elif row["shipping_tax_rate"] is not None:
            given_back.append((row["shipping_tax_rate"], shipping))
    taxes = credit_note_taxes(given_back)
    if sum((-base - tax for _, base, tax in taxes), Decimal("0.00")) != total:
        return  # lines sold before IVA was recorded: such an order has no invoice to correct either
    cur.execute("SELECT series FROM invoices WHERE order_id = %s", (order_id,))
    invoiced = cur.fetchone()
    if invoiced is None:
        return
    cur.execute(_ISSUE_CREDIT_NOTE, {
        "order": order_id, "refund": refund_id, "reason": reason, "amount": -total,
        "code": credit_note_reason_code(invoiced["series"]),
        "taxes": json.dumps([[str(rate), str(base), str(tax)] for rate, base, tax in taxes]),
        "time_zone": cur.owner.time_zone, "at": cur.owner.clock() if cur.owner.clock is not None else None})
    invoice_records.record_credit_note(cur, refund_id)


def successful_payment(cur: Any, order_id: int) -> Payment | None:
    cur.execute("SELECT * FROM payments WHERE order_id = %s AND status = 'succeeded'", (order_id,))
    row = cur.fetchone()
    if row is None:
        return None
    return payment_of(row)


@translates_errors
class Refunds:
    def __init__(self, db):
        self._db = db

    def of_order(self, order_id: int) -> list[Refund]:
        with self._db.transaction() as cur:
            cur.execute("""SELECT r.*, u.full_name AS created_by_name FROM refunds r
                           LEFT JOIN users u ON u.user_id = r.created_by
                           WHERE r.order_id = %s ORDER BY r.refund_id""", (order_id,))
            refunds = list(cur.fetchall())
            cur.execute("""SELECT l.* FROM refund_lines l JOIN refunds r USING (refund_id) WHERE r.order_id = %s""",
                        (order_id,))
            lines = list(cur.fetchall())
        return [_refund(refund, tuple(RefundLine(line["order_item_id"], line["quantity"], line["amount"])
                                      for line in lines if line["refund_id"] == refund["refund_id"]))
                for refund in refunds]

    def lines_to_restock(self, refund_id: int) -> list[RestockLine]:
        with self._db.transaction() as cur:
            cur.execute("""SELECT i.product_id, i.variant_key, l.quantity FROM refund_lines l
                           JOIN order_items i USING (order_item_id) WHERE l.refund_id = %s
                           ORDER BY i.product_id, i.variant_key""",
                        (refund_id,))
            # product_id is CHAR(24): trimmed here, so no caller sees the padding
            return [RestockLine(row["product_id"].strip(), row["quantity"], row["variant_key"] or None)
                    for row in cur.fetchall()]

    def mark_stock_returned(self, refund_id: int) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE refunds SET stock_returned = TRUE WHERE refund_id = %s", (refund_id,))

    def awaiting_stock(self, limit: int = 100) -> list[int]:
        with self._db.transaction() as cur:
            cur.execute("SELECT refund_id FROM refunds WHERE goods_returned AND NOT stock_returned "
                        "ORDER BY refund_id LIMIT %s", (limit,))
            return [row["refund_id"] for row in cur.fetchall()]

    def stock_states(self, refund_ids: list[int]) -> dict[int, bool]:
        """refund id → whether its units are back in stock (for the marker sweep)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT refund_id, stock_returned FROM refunds WHERE refund_id = ANY(%s)", (refund_ids,))
            return {row["refund_id"]: row["stock_returned"] for row in cur.fetchall()}
