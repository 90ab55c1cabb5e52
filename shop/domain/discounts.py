"""Discount codes: what a code is, when it applies, and how much it takes off each line.

A percentage is taken off every eligible line (rounded half up per line); a fixed amount is shared
among the eligible lines in proportion to their amounts, in whole cents (largest remainder), and
never more than they cost. IVA is computed afterwards, on what is left of each line
(shop.domain.taxes). docs/money.md has worked examples.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from shop.domain.accounts import normalize_email
from shop.domain.errors import N_, Conflict, InvalidInput

CENT = Decimal("0.01")
KINDS = ("percent", "fixed")
# What a customer is told about a code they cannot use, whatever the reason (see check_available).
NOT_USABLE = N_("The code %(code)s cannot be used: it does not exist, is not valid now or is not for you.")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")


def normalize_code(raw: str | None) -> str | None:
    """A code as typed ("  verano-10 ") → as stored ("VERANO-10"); None when nothing was typed."""
    if raw is None:
        return None
    code = "".join(raw.split()).upper()
    if not code:
        return None
    if not _CODE.match(code):
        raise InvalidInput(NOT_USABLE, code=code[:32])
    return code


@dataclass(frozen=True)
class DiscountCode:
    code: str
    kind: str
    value: Decimal
    min_order: Decimal = Decimal("0.00")
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    max_uses: int | None = None
    max_uses_per_customer: int | None = None
    categories: tuple[str, ...] = ()
    active: bool = True
    uses: int = 0
    user_id: int | None = None  # given to one customer: only that account may use it

    def eligible(self, category: str) -> bool:
        return not self.categories or category in self.categories

    def check(self, now: dt.datetime, lines: Sequence[tuple[Decimal, str]], customer_uses: int = 0,
              customer_id: int | None = None) -> None:
        """Refuse, with a reason a customer can act on, a code that cannot apply to these lines
        (gross amount, category) now. (The checkout takes the use in the database, where the count
        is exact under concurrency; this is the same rule for a preview.)"""
        self.check_available(now, customer_uses, customer_id)
        self.check_lines(lines)

    def check_available(self, now: dt.datetime, customer_uses: int = 0, customer_id: int | None = None) -> None:
        """Refuse a code that is off, outside its dates, used up, given to someone else, or used up
        by this customer."""
        # One answer whether the code is unknown, someone else's, off, outside its dates or used up:
        # telling them apart would help anyone guessing codes find the ones that exist.
        if ((self.user_id is not None and customer_id is not None and customer_id != self.user_id)
                or not self.active or (self.ends_at is not None and now >= self.ends_at)
                or (self.starts_at is not None and now < self.starts_at)
                or (self.max_uses is not None and self.uses >= self.max_uses)):
            raise Conflict(NOT_USABLE, code=self.code)
        if self.max_uses_per_customer is not None and customer_uses >= self.max_uses_per_customer:
            raise Conflict(N_("You have already used the code %(code)s as many times as it allows."), code=self.code)

    def check_lines(self, lines: Sequence[tuple[Decimal, str]]) -> None:
        """Refuse a code whose categories or minimum these lines (gross amount, category) do not meet."""
        eligible = [gross for gross, category in lines if self.eligible(category)]
        if not eligible:
            raise Conflict(N_("The code %(code)s does not apply to these products."), code=self.code)
        if sum(eligible, Decimal("0.00")) < self.min_order:
            raise Conflict(N_("The code %(code)s needs an order of at least %(amount)s."), code=self.code,
                           amount=self.min_order)

    def line_discounts(self, lines: Sequence[tuple[Decimal, str]]) -> list[Decimal]:
        """How much comes off each line (gross amount, category), in the order given."""
        eligible = [i for i, (_, category) in enumerate(lines) if self.eligible(category)]
        discounts = [Decimal("0.00")] * len(lines)
        if self.kind == "percent":
            for i in eligible:
                discounts[i] = (lines[i][0] * self.value / 100).quantize(CENT, rounding=ROUND_HALF_UP)
            return discounts
        base = sum((lines[i][0] for i in eligible), Decimal("0.00"))
        amount = min(self.value, base)
        if base == 0:
            return discounts
        exact = {i: amount * lines[i][0] / base for i in eligible}
        for i in eligible:
            discounts[i] = exact[i].quantize(CENT, rounding=ROUND_DOWN)
        left = int((amount - sum(discounts)) / CENT)
        for i in sorted(eligible, key=lambda i: (-(exact[i] - discounts[i]), i))[:left]:
            discounts[i] += CENT
        return discounts


def parse_discount_form(form: Mapping[str, str]) -> DiscountCode:
    """A new code from the admin's form (strings), validated."""
    code = normalize_code(form.get("code"))
    if code is None:
        raise InvalidInput(N_("A code needs 3 to 32 letters, digits or dashes."))
    kind = form.get("kind", "")
    if kind not in KINDS:
        raise InvalidInput(N_("Choose a percentage or a fixed amount."))
    value = _amount(form.get("value"), N_("The discount must be an amount such as 10 or 5.50."))
    if value <= 0 or (kind == "percent" and value > 100):
        raise InvalidInput(N_("A percentage is more than 0 and at most 100; an amount is more than 0."))
    min_order = _amount(form.get("min_order") or "0", N_("The minimum order must be an amount such as 30."))
    starts_at, ends_at = _day(form.get("starts")), _day(form.get("ends"))
    if starts_at and ends_at and ends_at <= starts_at:
        raise InvalidInput(N_("The code must end after it starts."))
    categories = tuple(sorted({c.strip() for c in (form.get("categories") or "").split(",") if c.strip()}))
    if any(len(c) > 60 for c in categories) or len(categories) > 20:
        raise InvalidInput(N_("List at most 20 categories, separated by commas."))
    return DiscountCode(code, kind, value, min_order, starts_at, ends_at,
                        _count(form.get("max_uses")), _count(form.get("max_uses_per_customer")), categories)


def customer_email_of(form: Mapping[str, str]) -> str | None:
    """The e-mail of the one customer a new code is for (normalized), or None for everyone."""
    raw = (form.get("customer_email") or "").strip()
    return normalize_email(raw) if raw else None


def _amount(raw: object, message: str) -> Decimal:
    try:
        amount = Decimal(str(raw or "").strip().replace(",", ".", 1))
    except InvalidOperation:
        raise InvalidInput(message) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1000000") or amount != amount.quantize(CENT):
        raise InvalidInput(message)
    return amount


def _count(raw: object) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,7}", text, re.ASCII) or int(text) < 1:
        raise InvalidInput(N_("A number of uses is a whole number from 1, or empty for no limit."))
    return int(text)


def _day(raw: object) -> dt.datetime | None:
    text = str(raw or "").strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(N_("%(name)s must be a date such as 2026-11-27."), name=text[:20]) from None
    return dt.datetime.combine(day, dt.time(), dt.UTC)
