"""The staff dashboard: sales per day, orders by status, best sellers, low stock, problem rate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.catalog import Product
from shop.domain.orders import OrderStatus, failed_or_cancelled_rate
from shop.domain.reports import SalesDay, TopProduct

DASHBOARD_DAYS = 30
LOW_STOCK_SHOWN = 50  # the products listed, fewest units first
LOW_STOCK_COUNTED = 1000  # how far the number of low-stock products is counted ("1.000 or more")


@dataclass(frozen=True)
class Dashboard:
    days: int
    sales: list[SalesDay]  # each of the last `days` days, oldest first
    status_counts: dict[str, int]
    top_products: list[TopProduct]
    low_stock: list[Product]
    low_stock_count: int  # up to LOW_STOCK_COUNTED
    low_stock_threshold: int
    problem_rate: float | None
    as_of: dt.datetime  # when these figures were read (a view may reuse them for a few seconds)

    @property
    def low_stock_count_is_exact(self) -> bool:
        return self.low_stock_count < LOW_STOCK_COUNTED

    @property
    def low_stock_is_partial(self) -> bool:
        """More products are low than the list shows."""
        return self.low_stock_count > LOW_STOCK_SHOWN

    @property
    def revenue(self) -> Decimal:
        return sum((day.revenue for day in self.sales), Decimal("0.00"))

    @property
    def best_day_revenue(self) -> Decimal:
        return max((day.revenue for day in self.sales), default=Decimal("0"))

    @property
    def statuses(self) -> list[tuple[str, int]]:
        """Every status in lifecycle order, zeros included."""
        return [(status.value, self.status_counts.get(status.value, 0)) for status in OrderStatus]


def dashboard(db: PostgresDatabase, store: MongoStore, low_stock_threshold: int,
              days: int = DASHBOARD_DAYS) -> Dashboard:
    as_of = dt.datetime.now(dt.UTC)
    counts = db.reports.order_status_counts(days)
    return Dashboard(days=days, sales=db.reports.sales_per_day(days), status_counts=counts,
                     top_products=db.reports.top_products(days),
                     low_stock=low_stock(db, store, low_stock_threshold, LOW_STOCK_SHOWN),
                     low_stock_count=db.catalog.count_low_stock(low_stock_threshold, LOW_STOCK_COUNTED),
                     low_stock_threshold=low_stock_threshold, problem_rate=failed_or_cancelled_rate(counts),
                     as_of=as_of)


def low_stock(db: PostgresDatabase, store: MongoStore, threshold: int, limit: int = 50) -> list[Product]:
    """Products on sale with at most `threshold` units — for a product sold in options, with a variant
    at or below it — fewest first. Which ones: the catalog index's copy of the stock (up to one
    recovery pass behind); how many units: MongoDB, now."""
    ids = db.catalog.low_stock(threshold, limit)
    found = store.catalog.by_ids(ids)
    products = [found[pid] for pid in ids if pid in found and found[pid].scarcest_stock <= threshold]
    return sorted(products, key=lambda product: product.scarcest_stock)
