"""The checkout's invariant, checked after every scenario once recovery has run (docs/checkout.md)."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.services.recovery import recover


def units_in_live_orders(db: PostgresDatabase) -> dict[str, int]:
    with db.transaction() as cur:
        cur.execute(
            """SELECT i.product_id, sum(i.quantity)::int AS units FROM order_items i
               JOIN orders o USING (order_id) WHERE o.status NOT IN ('failed', 'cancelled')
               GROUP BY i.product_id""")
        return {row["product_id"]: row["units"] for row in cur.fetchall()}


def assert_invariant_after_recovery(db: PostgresDatabase, store: MongoStore, initial: dict[str, int]) -> None:
    """initial stock = current stock + units in orders that are not failed/cancelled; nothing in flight."""
    report = recover(db, store)
    assert report.ran
    stock = store.stock.levels()
    sold = units_in_live_orders(db)
    for product_id, initial_stock in initial.items():
        assert stock[product_id] >= 0
        assert initial_stock == stock[product_id] + sold.get(product_id, 0), (
            f"product {product_id}: initial {initial_stock} != stock {stock[product_id]} + sold {sold.get(product_id)}")
    assert store.stock.with_markers("holds") == [], "a hold marker was left behind"
    with db.transaction() as cur:
        cur.execute("SELECT count(*) AS n FROM orders WHERE status = 'placing'")
        assert cur.fetchone()["n"] == 0, "an order was left in flight"
        cur.execute("SELECT count(*) AS n FROM orders WHERE status = 'cancelled' AND NOT stock_returned")
        assert cur.fetchone()["n"] == 0, "a cancelled order's stock was not returned"
