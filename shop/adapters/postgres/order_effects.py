"""An order's status change and its effects, written in the transaction that makes the change.

What each change causes is decided in the domain (shop.domain.order_effects.effects_of); here each
effect is one statement, run in the order the shop has always used — the invoice, then the sales
figures, then the mail (which names the invoice), and the discount use released — so that two
payments of one day take the figures' row locks in the same order and never deadlock.
"""

from __future__ import annotations

from shop.adapters.postgres import invoice_records
from shop.adapters.postgres.webhooks import ORDER_EVENT
from shop.domain.order_effects import Effects, Reason, effects_of
from shop.domain.orders import OrderStatus

# The invoice's date and series year are the shop's time zone's (SHOP_TIME_ZONE): an order paid at
# 00:30 on 1 January in Madrid (23:30 UTC) is in the new year's series. `at`: the database's clock
# (the transaction's time), unless the adapter was given one (tests of a year's last minute).
# A full invoice (series F) when the order names whom it is made out to (orders.invoice_party,
# given at checkout: required over SIMPLIFIED_INVOICE_LIMIT); a simplified one (FS) otherwise.
_ISSUE_INVOICE = """
    WITH issued AS (
        SELECT coalesce(%(at)s::timestamptz, now()) AS at, o.invoice_party AS party,
               CASE WHEN o.invoice_party IS NULL THEN 'FS' ELSE 'F' END AS series
        FROM orders o WHERE o.order_id = %(order)s),
    numbered AS (
        INSERT INTO invoice_series AS s (series, year, last_number)
        SELECT issued.series, extract(year FROM issued.at AT TIME ZONE %(time_zone)s), 1 FROM issued
        ON CONFLICT (series, year) DO UPDATE SET last_number = s.last_number + 1
        RETURNING series, year, last_number)
    INSERT INTO invoices (order_id, series, series_year, number, issued_at, party)
    SELECT %(order)s, numbered.series, year, last_number, issued.at, issued.party FROM numbered, issued"""

# The day the order was placed carries its sale (and later its refunds: shop.adapters.postgres.refunds);
# a product's sizes sold in one order count together, as one row of the product's day.
_COUNT_SALE = """
    INSERT INTO sales_daily AS s (day, orders, revenue)
    SELECT (created_at AT TIME ZONE 'UTC')::date, 1, total_amount FROM orders WHERE order_id = %(order)s
    ON CONFLICT (day) DO UPDATE SET orders = s.orders + 1, revenue = s.revenue + EXCLUDED.revenue"""
_COUNT_PRODUCT_SALES = """
    INSERT INTO product_sales_daily AS p (day, product_id, units, revenue)
    SELECT (o.created_at AT TIME ZONE 'UTC')::date, i.product_id, sum(i.quantity),
           sum(i.unit_price * i.quantity - i.discount_amount)
    FROM order_items i JOIN orders o USING (order_id) WHERE i.order_id = %(order)s
    GROUP BY 1, i.product_id ORDER BY i.product_id
    ON CONFLICT (day, product_id) DO UPDATE SET units = p.units + EXCLUDED.units,
                                                revenue = p.revenue + EXCLUDED.revenue"""

_QUEUE_MAIL = """
    INSERT INTO mail_outbox (kind, order_id, refund_id, to_address, language)
    SELECT %(mail)s, o.order_id, %(refund)s, u.email, u.language FROM orders o JOIN users u USING (user_id)
    WHERE o.order_id = %(order)s"""

_RELEASE_DISCOUNT_USE = """
    WITH released AS (
        UPDATE discount_uses SET released_at = now()
        WHERE order_id = %(order)s AND released_at IS NULL RETURNING code)
    UPDATE discount_codes c SET uses = c.uses - 1 FROM released WHERE c.code = released.code"""


def record_status(cur, order_id: int, from_status: OrderStatus | None, to_status: OrderStatus,
                  changed_by: int | None, reason: str | None, reason_code: Reason,
                  refund_id: int | None = None) -> Effects:
    """The history row of a change the caller has just made to `orders`, and its effects (a refund's
    change names the refund, which its mail is about)."""
    cur.execute(
        """INSERT INTO order_status_history (order_id, from_status, to_status, changed_by, reason, reason_code)
           VALUES (%s, %s, %s, %s, %s, %s)""",
        (order_id, from_status.value if from_status else None, to_status.value, changed_by, reason,
         reason_code.value))
    effects = effects_of(from_status, to_status, reason_code)
    apply(cur, order_id, effects, refund_id)
    return effects


def apply(cur, order_id: int, effects: Effects, refund_id: int | None = None) -> None:
    params = {"order": order_id, "mail": effects.mail.value if effects.mail else None, "refund": refund_id,
              "event": effects.event, "time_zone": cur.owner.time_zone,
              "at": cur.owner.clock() if cur.owner.clock is not None else None}
    if effects.issue_invoice:
        cur.execute(_ISSUE_INVOICE, params)
        invoice_records.record_invoice(cur, order_id)
    if effects.count_sale:
        cur.execute(_COUNT_SALE, params)
        cur.execute(_COUNT_PRODUCT_SALES, params)
    if effects.release_discount_use:
        cur.execute(_RELEASE_DISCOUNT_USE, params)
    if effects.mail is not None:
        cur.execute(_QUEUE_MAIL, params)
    if effects.event is not None:  # after the status is written: the event carries it
        cur.execute(ORDER_EVENT, params)
