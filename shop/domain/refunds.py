"""Refunds: which units of a paid order go back, and how much money each line returns.

A line's money is what was paid for it (its gross less its discount). Refunding some of its units
returns that money in proportion, rounded so that partial refunds add up exactly: the units already
refunded plus these, times the line's money over its quantity, rounded half up, less what was already
returned. Refunding every unit of every line returns exactly the order total (docs/money.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from shop.domain.errors import N_, Conflict, InvalidInput

CENT = Decimal("0.01")
MAX_REASON_LENGTH = 200
_QUANTITY = re.compile(r"^\d{1,6}$", re.ASCII)


@dataclass(frozen=True)
class RefundLine:
    """Units of one order line a refund gave back, and their money."""

    order_item_id: int
    quantity: int
    amount: Decimal


@dataclass(frozen=True)
class Refund:
    """Money given back on an order (its lines; no lines: only the shipping), as recorded."""

    refund_id: int
    order_id: int
    amount: Decimal
    reason: str
    goods_returned: bool
    stock_returned: bool  # the returned goods are back in stock
    created_at: dt.datetime
    payment_id: int | None = None
    provider_reference: str | None = None
    created_by: int | None = None
    created_by_name: str | None = None
    lines: tuple[RefundLine, ...] = ()


@dataclass(frozen=True)
class RefundedTotals:
    """A refund just recorded, and its order's refunded total after it."""

    refund_id: int
    refunded_amount: Decimal
    total_amount: Decimal

    @property
    def everything_refunded(self) -> bool:
        return self.refunded_amount == self.total_amount


@dataclass(frozen=True)
class RestockLine:
    """Units of one product (of one of its variants) a refund's returned goods put back in stock."""

    product_id: str
    quantity: int
    variant: str | None = None


@dataclass(frozen=True)
class RefundableLine:
    order_item_id: int
    quantity: int
    refunded_quantity: int
    paid: Decimal  # what the whole line cost: unit price × quantity − its discount

    @property
    def refundable(self) -> int:
        return self.quantity - self.refunded_quantity

    def money_for(self, units: int) -> Decimal:
        """What `units` more of this line return, given those already refunded."""
        def share(n: int) -> Decimal:
            return (self.paid * n / self.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
        return share(self.refunded_quantity + units) - share(self.refunded_quantity)


@dataclass(frozen=True)
class RefundRequest:
    units: Mapping[int, int]  # order_item_id → units to refund (only those > 0)
    reason: str
    goods_returned: bool  # the units came back to the warehouse: put them back in stock


def parse_refund_form(form: Mapping[str, str], item_ids: Sequence[int], *, full: bool) -> RefundRequest:
    """The admin's refund form: a reason, whether the goods came back, and per line `units_<id>`
    (ignored for a full refund, which takes every unit not refunded yet)."""
    reason = (form.get("reason") or "").strip()
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(N_("Say why you refund, in at most %(max)d characters."), max=MAX_REASON_LENGTH)
    units: dict[int, int] = {}
    if not full:
        for item_id in item_ids:
            raw = (form.get(f"units_{item_id}") or "").strip()
            if not raw:
                continue
            if not _QUANTITY.match(raw):
                raise InvalidInput(N_("The units to refund are whole numbers from 0."))
            if int(raw):
                units[item_id] = int(raw)
        if not units:
            raise InvalidInput(N_("Choose at least one unit to refund."))
    return RefundRequest(units, reason, form.get("goods_returned") in ("1", "on", "true"))


def refund_amounts(lines: Sequence[RefundableLine], request: RefundRequest, *,
                   full: bool) -> dict[int, tuple[int, Decimal]]:
    """order_item_id → (units, money) for this refund; refuses units that were not bought or were
    already refunded, and a refund of nothing."""
    by_id = {line.order_item_id: line for line in lines}
    wanted = {line.order_item_id: line.refundable for line in lines if line.refundable} if full else request.units
    if not wanted:
        raise Conflict(N_("Everything in this order has already been refunded."))
    result = {}
    for item_id, units in wanted.items():
        line = by_id.get(item_id)
        if line is None:
            raise InvalidInput(N_("That line is not in this order."))
        if units > line.refundable:
            raise Conflict(N_("Only %(n)d units of that line can still be refunded."), n=line.refundable)
        result[item_id] = (units, line.money_for(units))
    if sum(money for _, money in result.values()) <= 0:
        raise Conflict(N_("Those units were free: there is nothing to refund."))
    return result
