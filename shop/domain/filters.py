"""Validated filters for the staff lists (orders, payments, audit log), and their keyset positions.

Like the catalog's query parsing, every value that reaches a query is a validated scalar: a date,
an integer, or an exact string compared with `=` (never a pattern, never an operator). The lists
are read newest first "after this row" (keyset paging), never "skip N rows": page 20,000 costs what
page 2 does, and rows added between two page loads are neither skipped nor shown twice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shop.domain.accounts import normalize_email
from shop.domain.errors import N_, InvalidInput
from shop.domain.listing import MAX_CURSOR_LENGTH, Listing
from shop.domain.orders import OrderStatus, PaymentStatus

_ACTION = re.compile(r"^[a-z_]{1,30}(\.[a-z_]{1,30}){0,2}$")
_TARGET = re.compile(r"^[a-z_]{1,20}:[0-9A-Za-z_.-]{1,64}$")
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet runs as a formula


def _one(args: Mapping[str, list[str]], name: str) -> str:
    values = args.get(name) or []
    if len(values) > 1:
        raise InvalidInput(N_("The parameter %(name)s was given more than once."), name=name[:40])
    return values[0].strip() if values else ""


# Rows per page a staff list offers; the first is the default (as in Saleor, Medusa and
# django-oscar's dashboards). Every row costs a read and a rendering (docs/admin.md, "Rows per page").
PAGE_SIZES = (20, 50, 100)
DEFAULT_PAGE_SIZE = PAGE_SIZES[0]


def parse_page_size(args: Mapping[str, list[str]]) -> int:
    """`per_page` from the URL: one of PAGE_SIZES (written plainly: "50", not "050" or "５０")."""
    raw = _one(args, "per_page")
    if not raw:
        return DEFAULT_PAGE_SIZE
    if raw not in {str(size) for size in PAGE_SIZES}:
        raise InvalidInput(N_("Rows per page: choose %(sizes)s."), sizes=", ".join(map(str, PAGE_SIZES)))
    return int(raw)


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
    utc = dt.UTC
    return (dt.datetime.combine(start, dt.time(), utc) if start else None,
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), utc) if end else None)


# --- positions: "after this row" in a staff list, newest first ------------------------------------

@dataclass(frozen=True)
class RowPosition:
    """Where a staff list stands: a row's time and number (the number breaks ties). The whole audit
    log and the users are ordered by a number alone, so their positions have no time."""

    list_name: str
    row_id: int
    at: dt.datetime | None = None

    def token(self) -> str:
        """The opaque URL form (base64 of JSON)."""
        raw = json.dumps([self.list_name, self.row_id, self.at.isoformat() if self.at else ""], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_WITHOUT_TIME = ("audit", "users")  # lists ordered by a number alone


def parse_row_position(token: str, list_name: str) -> RowPosition:
    """A position from a link; a forged one (or one from another list) is refused, never used."""
    invalid = InvalidInput(N_("That page link is not valid any more; start again from the first page."))
    if not token or len(token) > MAX_CURSOR_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", token, re.ASCII):
        raise invalid
    try:
        value = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if (not isinstance(value, list) or len(value) != 3 or value[0] != list_name
            or type(value[1]) is not int or not 1 <= value[1] <= 2**53 or not isinstance(value[2], str)):
        raise invalid
    at = None
    if value[2]:
        try:
            at = dt.datetime.fromisoformat(value[2])
        except ValueError:
            raise invalid from None
        if at.tzinfo is None or not EARLIEST_DATE.year <= at.year <= LATEST_DATE.year:
            raise invalid
    elif list_name not in _WITHOUT_TIME:
        raise invalid
    return RowPosition(list_name, value[1], at)


def _positions(args: Mapping[str, list[str]], list_name: str) -> tuple[RowPosition | None, RowPosition | None]:
    after, before = _one(args, "after"), _one(args, "before")
    if after and before:
        raise InvalidInput(N_("That page link is not valid any more; start again from the first page."))
    return (parse_row_position(after, list_name) if after else None,
            parse_row_position(before, list_name) if before else None)


def keyset_page(rows: list[Any], *, per_page: int, after: RowPosition | None, before: RowPosition | None,
                position_of: Callable[[Any], RowPosition], total: int, total_is_exact: bool) -> Listing:
    """One page of a staff list from the rows read beyond its position (at most per_page + 1: the
    extra row only says there is more). Rows read `before` a position come oldest first."""
    if before is not None:
        rows = rows[:per_page][::-1]
        has_previous, more = True, True
    else:
        more, rows = len(rows) > per_page, rows[:per_page]
        has_previous = after is not None
    return Listing(items=rows, total=total, total_is_exact=total_is_exact,
                   next_position=position_of(rows[-1]) if more and rows else None,
                   previous_position=position_of(rows[0]) if has_previous and rows else None,
                   has_previous=has_previous)


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    email: str | None = None
    order_id: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    after: RowPosition | None = None
    before: RowPosition | None = None
    per_page: int = DEFAULT_PAGE_SIZE


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
    return OrderFilter(status, email, order_id, start, end, *_positions(args, "orders"), parse_page_size(args))


PAYMENT_STATUSES = ("succeeded", "declined", "pending", "orphaned", "refunded")


@dataclass(frozen=True)
class PaymentFilter:
    status: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    after: RowPosition | None = None
    before: RowPosition | None = None
    per_page: int = DEFAULT_PAGE_SIZE


def parse_payment_filter(args: Mapping[str, list[str]]) -> PaymentFilter:
    status = _one(args, "status") or None
    if status is not None and status not in PAYMENT_STATUSES:
        raise InvalidInput(N_("Unknown payment status; use succeeded or declined."))
    start, end = _date_range(args)
    return PaymentFilter(status, start, end, *_positions(args, "payments"), parse_page_size(args))


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    actor_email: str | None = None  # resolved to actor_id by the view (a user's e-mail can change)
    action: str | None = None
    target: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    after: RowPosition | None = None
    before: RowPosition | None = None
    per_page: int = DEFAULT_PAGE_SIZE

    @property
    def is_filtered(self) -> bool:
        return any(value is not None for value in (self.actor_id, self.actor_email, self.action, self.target,
                                                   self.start, self.end))

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
    return AuditFilter(actor_id, actor_email, action, target, start, end, *_positions(args, "audit"),
                       parse_page_size(args))


def csv_cell(value: object) -> str:
    """A cell that a spreadsheet shows as text: a leading =, +, - or @ would run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text


@dataclass(frozen=True)
class UserFilter:
    role: str | None = None
    email: str | None = None
    after: RowPosition | None = None
    before: RowPosition | None = None
    per_page: int = DEFAULT_PAGE_SIZE


def parse_user_filter(args: Mapping[str, list[str]]) -> UserFilter:
    """The users list's filters (the role is checked by shop.domain.accounts.parse_role)."""
    role = _one(args, "role") or None
    email = normalize_email(_one(args, "email")) if _one(args, "email") else None
    return UserFilter(role, email, *_positions(args, "users"), parse_page_size(args))


# --- the rows the staff lists show ----------------------------------------------------------------

@dataclass(frozen=True)
class OrderRow:
    """An order in the staff's list of every customer's orders."""

    order_id: int
    created_at: dt.datetime
    status: OrderStatus
    total_amount: Decimal
    email: str
    full_name: str


@dataclass(frozen=True)
class PaymentRow:
    """A payment attempt (accepted or declined) in the staff's list of payments."""

    payment_id: int
    order_id: int
    created_at: dt.datetime
    amount: Decimal
    status: PaymentStatus
    method: str
    email: str
    full_name: str
    provider_reference: str | None = None
    card_last4: str | None = None
    decline_reason: str | None = None
