"""What the staff dashboard reports: a day of sales, a best seller."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class SalesDay:
    """One day (UTC) of the dashboard's chart: the paid or shipped orders placed that day."""

    day: dt.date
    orders: int
    revenue: Decimal


@dataclass(frozen=True)
class TopProduct:
    """A best seller of the dashboard's period, under the name it was last sold with."""

    product_id: str
    name: str
    units: int
    revenue: Decimal
