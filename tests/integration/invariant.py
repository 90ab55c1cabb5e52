"""The checkout's invariant, checked after every scenario once recovery has run (docs/checkout.md)."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.services.recovery import recover


def units_in_live_orders(db: PostgresDatabase) -> dict[str, int]:
    """Units in orders that are not failed or cancelled: by product id (all its variants together)
    and by "product id:variant key" for each variant, as `store.stock.levels()` counts the stock."""
    with db.transaction() as cur:
        cur.execute(
            """SELECT i.product_id, i.variant_key, sum(i.quantity)::int AS units FROM order_items i
               JOIN orders o USING (order_id) WHERE o.status NOT IN ('failed', 'cancelled')
               GROUP BY i.product_id, i.variant_key""")
        units: dict[str, int] = {}
        for row in cur.fetchall():
            units[row["product_id"]] = units.get(row["product_id"], 0) + row["units"]
            if row["variant_key"]:
                units[f"{row['product_id']}:{row['variant_key']}"] = row["units"]
        return units


def assert_invariant_after_recovery(db: PostgresDatabase, store: MongoStore, initial: dict[str, int]) -> None:
    """initial stock = current stock + units in orders that are not failed/cancelled, for each product
    and each variant ("product id:variant key" in `initial`); nothing in flight."""
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
