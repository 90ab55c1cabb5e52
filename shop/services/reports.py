"""The staff dashboard: sales per day, orders by status, best sellers, low stock, problem rate."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.catalog import Product
from shop.domain.orders import OrderStatus, failed_or_cancelled_rate

DASHBOARD_DAYS = 30


@dataclass(frozen=True)
class Dashboard:
    days: int
    sales: list[dict]  # {day, orders, revenue} for each of the last `days` days, oldest first
    status_counts: dict[str, int]
    top_products: list[dict]
    low_stock: list[Product]
    low_stock_threshold: int
    problem_rate: float | None

    @property
    def revenue(self) -> Decimal:
        return sum((day["revenue"] for day in self.sales), Decimal("0.00"))

    @property
    def best_day_revenue(self) -> Decimal:
        return max((day["revenue"] for day in self.sales), default=Decimal("0"))

    @property
    def statuses(self) -> list[tuple[str, int]]:
        """Every status in lifecycle order, zeros included."""
        return [(status.value, self.status_counts.get(status.value, 0)) for status in OrderStatus]


def dashboard(db: PostgresDatabase, store: MongoStore, low_stock_threshold: int,
              days: int = DASHBOARD_DAYS) -> Dashboard:
    counts = db.reports.order_status_counts(days)
    return Dashboard(days=days, sales=db.reports.sales_per_day(days), status_counts=counts,
                     top_products=db.reports.top_products(days), low_stock=low_stock(db, store, low_stock_threshold),
                     low_stock_threshold=low_stock_threshold, problem_rate=failed_or_cancelled_rate(counts))


def low_stock(db: PostgresDatabase, store: MongoStore, threshold: int, limit: int = 50) -> list[Product]:
    """Products on sale with at most `threshold` units, fewest first. Which ones: the catalog
    index's copy of the stock (up to one recovery pass behind); how many units: MongoDB, now."""
    ids = db.catalog.low_stock(threshold, limit)
    found = store.catalog.by_ids(ids)
    products = [found[pid] for pid in ids if pid in found and found[pid].stock <= threshold]
    return sorted(products, key=lambda product: product.stock)
