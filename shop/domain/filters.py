"""Validated filters for the staff lists (orders, audit log): dates, ids, short exact texts.

Like the catalog's query parsing, every value that reaches a query is a validated scalar: a date,
an integer, or an exact string compared with `=` (never a pattern, never an operator).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shop.domain.accounts import normalize_email
from shop.domain.catalog import parse_page
from shop.domain.errors import N_, InvalidInput
from shop.domain.orders import OrderStatus

_ACTION = re.compile(r"^[a-z_]{1,30}(\.[a-z_]{1,30}){0,2}$")
_TARGET = re.compile(r"^[a-z_]{1,20}:[0-9A-Za-z_.-]{1,64}$")
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _one(args: Mapping[str, list[str]], name: str) -> str:
    values = args.get(name) or []
    if len(values) > 1:
        raise InvalidInput(N_("The parameter %(name)s was given more than once."), name=name[:40])
    return values[0].strip() if values else ""


EARLIEST_DATE, LATEST_DATE = dt.date(2000, 1, 1), dt.date(2999, 12, 31)


def parse_date(raw: str, name: str) -> dt.date | None:
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a date such as 2026-11-27."), name=name) from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:  # 9999-12-31 + 1 day would overflow in day_bounds
        raise InvalidInput(N_("%(name)s must be a date such as 2026-11-27."), name=name)
    return day


def _date_range(args: Mapping[str, list[str]]) -> tuple[dt.date | None, dt.date | None]:
    start, end = parse_date(_one(args, "from"), "from"), parse_date(_one(args, "to"), "to")
    if start and end and start > end:
        raise InvalidInput(N_("The date range ends before it starts."))
    return start, end


def _positive_int(raw: str, message: str) -> int | None:
    if not raw:
        return None
    if not re.fullmatch(r"\d{1,10}", raw, re.ASCII) or not 1 <= int(raw) <= 2_147_483_647:
        raise InvalidInput(message)
    return int(raw)


def day_bounds(start: dt.date | None, end: dt.date | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start 00:00, the day after end 00:00) in UTC: both days included."""
    utc = dt.timezone.utc
    return (dt.datetime.combine(start, dt.time(), utc) if start else None,
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), utc) if end else None)


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    email: str | None = None
    order_id: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1
    per_page: int = 50


def parse_order_filter(args: Mapping[str, list[str]]) -> OrderFilter:
    raw_status = _one(args, "status")
    try:
        status = OrderStatus(raw_status) if raw_status else None
    except ValueError:
        raise InvalidInput(N_("Unknown order status.")) from None
    email = _one(args, "email").lower() or None
    if email is not None and len(email) > 254:
        raise InvalidInput(N_("Enter a valid e-mail address."))
    order_id = _positive_int(_one(args, "order").lstrip("#"), N_("An order number is a whole number such as 17."))
    start, end = _date_range(args)
    return OrderFilter(status, email, order_id, start, end, parse_page(_one(args, "page") or None))


PAYMENT_STATUSES = ("succeeded", "declined")


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1
    per_page: int = 50


def parse_payment_filter(args: Mapping[str, list[str]]) -> PaymentFilter:
    status = _one(args, "status") or None
    if status is not None and status not in PAYMENT_STATUSES:
        raise InvalidInput(N_("Unknown payment status; use succeeded or declined."))
    start, end = _date_range(args)
    return PaymentFilter(status, start, end, parse_page(_one(args, "page") or None))


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    actor_email: str | None = None  # resolved to actor_id by the view (a user's e-mail can change)
    action: str | None = None
    target: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    page: int = 1
    per_page: int = 100

    def as_args(self) -> dict[str, str]:
        """The filter as query-string arguments (for the CSV link and the pages)."""
        values = {"actor": self.actor_email or self.actor_id, "action": self.action, "target": self.target,
                  "from": self.start, "to": self.end}
        return {name: str(value) for name, value in values.items() if value is not None}


def parse_audit_filter(args: Mapping[str, list[str]]) -> AuditFilter:
    actor = _one(args, "actor")
    actor_email = normalize_email(actor) if "@" in actor else None
    actor_id = None if actor_email else _positive_int(actor, N_("The actor is a user number such as 3, or an e-mail."))
    action = _one(args, "action") or None
    if action is not None and not _ACTION.match(action):
        raise InvalidInput(N_("Unknown action; pick one from the list, such as login.failed."))
    target = _one(args, "target") or None
    if target is not None and not _TARGET.match(target):
        raise InvalidInput(N_("A target looks like order:17, user:3 or product:<id>."))
    start, end = _date_range(args)
    return AuditFilter(actor_id, actor_email, action, target, start, end, parse_page(_one(args, "page") or None))


def csv_cell(value) -> str:
    """A cell that a spreadsheet shows as text: a leading =, +, - or @ would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text
