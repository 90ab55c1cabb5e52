"""What the staff dashboard reads (`db.reports`): daily totals kept as orders are paid and
refunded (shop.adapters.postgres.order_effects, shop.adapters.postgres.refunds), so each answer
costs the days asked for, not the orders."""

from __future__ import annotations

from shop.adapters.postgres.errors import translates_errors
from shop.domain.reports import SalesDay, TopProduct


@translates_errors
class Reports:
    def __init__(self, db):
        self._db = db

    def is_product_ordered(self, product_id: str) -> bool:
        with self._db.transaction() as cur:
            cur.execute("SELECT EXISTS (SELECT FROM order_items WHERE product_id = %s) AS ordered", (product_id,))
            return cur.fetchone()["ordered"]


    def sales_per_day(self, days: int) -> list[SalesDay]:
        """Every one of the last `days` days (UTC), with the paid or shipped orders placed that day
        (from the daily totals kept as orders are paid: database/postgres/0010_sales_rollups.sql)."""
        with self._db.transaction() as cur:
            cur.execute(
                """SELECT d::date AS day, coalesce(s.orders, 0) AS orders, coalesce(s.revenue, 0) AS revenue
                   FROM generate_series((now() AT TIME ZONE 'UTC')::date - (%(days)s - 1),
                                        (now() AT TIME ZONE 'UTC')::date, interval '1 day') AS d
                   LEFT JOIN sales_daily s ON s.day = d::date
                   ORDER BY d""", {"days": days})
            return [SalesDay(row["day"], int(row["orders"]), row["revenue"]) for row in cur.fetchall()]


    def order_status_counts(self, days: int) -> dict[str, int]:
        with self._db.transaction() as cur:
            cur.execute("""SELECT status, count(*) AS n FROM orders
                           WHERE created_at >= now() - make_interval(days => %s) GROUP BY status""", (days,))
            return {row["status"]: row["n"] for row in cur.fetchall()}


    def top_products(self, days: int, limit: int = 10) -> list[TopProduct]:
        """Best sellers by units in paid or shipped orders placed in the last `days` days (from the
        daily totals), with the name each was last sold under."""
        with self._db.transaction() as cur:
            cur.execute(
                """WITH top AS (
                       SELECT product_id, sum(units) AS units, sum(revenue) AS revenue FROM product_sales_daily
                       WHERE day > (now() AT TIME ZONE 'UTC')::date - %s
                       GROUP BY product_id ORDER BY units DESC, revenue DESC LIMIT %s)
                   SELECT top.product_id, top.units, top.revenue,
                          (SELECT product_name FROM order_items i WHERE i.product_id = top.product_id
                           ORDER BY order_item_id DESC LIMIT 1) AS name
                   FROM top ORDER BY units DESC, revenue DESC""", (days, limit))
            return [TopProduct(row["product_id"].strip(), row["name"], int(row["units"]), row["revenue"])
                    for row in cur.fetchall()]

