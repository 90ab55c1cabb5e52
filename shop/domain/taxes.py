"""IVA (Spanish VAT) on prices that include it: tax classes, rates, and the cent rules.

Prices are entered and shown with IVA included (B2C). An order keeps, per line, the rate it was sold
at and that line's share of the tax. The rule (docs/money.md, with worked examples):

1. Lines are grouped by rate. For each rate, base = round(Σ gross / (1 + rate), 2) half up, and
   IVA = Σ gross − base: what a simplified invoice shows per rate, and base + IVA = Σ gross exactly.
2. That rate's IVA is shared among its lines in proportion to their gross, in whole cents: each
   line gets the cents of its exact share rounded down, and the cents left over go one each to the
   lines with the largest remainders (the earlier line first on a tie). So Σ line IVA = the rate's
   IVA, Σ rates = the order's IVA, and Σ line gross = the order total, always.

Shipping (SHIPPING_TAX_RULE): by default it is ancillary to the goods and follows their IVA
(`follow_goods`): all at their rate when they share one, apportioned by the goods' taxable bases
when rates are mixed (cents by largest remainder, so the parts add up to the shipping). `general`
taxes it at the general rate whatever it carries. docs/money.md has the worked examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, cast

from shop.domain.errors import N_, InvalidInput

if TYPE_CHECKING:
    from shop.domain.orders import Order

CENT = Decimal("0.01")
TAX_CLASSES = ("general", "reduced", "super_reduced")
DEFAULT_TAX_CLASS = "general"
DEFAULT_RATES: Mapping[str, Decimal] = {"general": Decimal("21"), "reduced": Decimal("10"),
                                        "super_reduced": Decimal("4")}
SHIPPING_TAX_RULES = ("follow_goods", "general")


def parse_tax_rates(raw: str | None) -> dict[str, Decimal]:
    """Rates per class from configuration ("general:21,reduced:10,super_reduced:4"): every class
    named, each a percentage from 0 to 100."""
    if not raw:
        return dict(DEFAULT_RATES)
    rates: dict[str, Decimal] = {}
    for part in raw.split(","):
        name, _, value = part.strip().partition(":")
        try:
            rate = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"TAX_RATES: {part!r} is not class:percentage") from None
        if name not in TAX_CLASSES or not Decimal(0) <= rate <= Decimal(100) or rate != rate.quantize(CENT):
            raise ValueError(f"TAX_RATES: {part!r} is not one of {', '.join(TAX_CLASSES)} with a percentage")
        rates[name] = rate
    missing = set(TAX_CLASSES) - set(rates)
    if missing:
        raise ValueError(f"TAX_RATES must give every class; missing {', '.join(sorted(missing))}")
    return rates


def parse_tax_class(raw: str | None) -> str:
    value = (raw or DEFAULT_TAX_CLASS).strip()
    if value not in TAX_CLASSES:
        raise InvalidInput(N_("Unknown tax class; choose general, reduced or super_reduced."))
    return value


@dataclass(frozen=True)
class RateTotal:
    """What a simplified invoice shows for one rate."""

    rate: Decimal
    base: Decimal
    tax: Decimal

    @property
    def gross(self) -> Decimal:
        return self.base + self.tax

    @property
    def row(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(rate, base, IVA, total): a line of an invoice's IVA table."""
        return self.rate, self.base, self.tax, self.gross


def base_of(gross: Decimal, rate: Decimal) -> Decimal:
    return (gross / (1 + rate / 100)).quantize(CENT, rounding=ROUND_HALF_UP)


def split_tax(lines: Sequence[tuple[Decimal, Decimal]]) -> tuple[list[Decimal], list[RateTotal]]:
    """For lines given as (rate, gross with IVA), each line's IVA and the totals per rate (rule above)."""
    shares = [Decimal("0.00")] * len(lines)
    totals = []
    for rate in sorted({rate for rate, _ in lines}, reverse=True):
        members = [i for i, (line_rate, _) in enumerate(lines) if line_rate == rate]
        gross = sum((lines[i][1] for i in members), Decimal("0.00"))
        tax = gross - base_of(gross, rate)
        totals.append(RateTotal(rate, gross - tax, tax))
        if gross == 0:
            continue
        exact = {i: tax * lines[i][1] / gross for i in members}
        for i in members:
            shares[i] = exact[i].quantize(CENT, rounding=ROUND_DOWN)
        left = int((tax - sum(shares[i] for i in members)) / CENT)
        for i in sorted(members, key=lambda i: (-(exact[i] - shares[i]), i))[:left]:
            shares[i] += CENT
    return shares, totals


def shipping_by_rate(shipping: Decimal, goods: Sequence[tuple[Decimal, Decimal]], general: Decimal,
                     rule: str = "follow_goods") -> list[tuple[Decimal, Decimal]]:
    """How a shipping charge (IVA included) splits across IVA rates, as (rate, gross) parts, highest
    rate first. `goods` are the order's lines as (rate, gross after discounts)."""
    if rule not in SHIPPING_TAX_RULES:
        raise ValueError(f"unknown shipping tax rule {rule!r}")
    if not shipping:
        return []
    _, totals = split_tax(goods)
    bases = [(total.rate, total.base) for total in totals if total.base > 0]
    if rule == "general" or not bases:
        return [(general, shipping)]
    whole = sum((base for _, base in bases), Decimal("0.00"))
    exact = [shipping * base / whole for _, base in bases]
    parts = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((shipping - sum(parts)) / CENT)
    for i in sorted(range(len(parts)), key=lambda i: (-(exact[i] - parts[i]), i))[:left]:
        parts[i] += CENT
    return [(rate, part) for (rate, _), part in zip(bases, parts, strict=True) if part]


def rate_totals(lines: Sequence[tuple[Decimal, Decimal, Decimal]]) -> list[RateTotal]:
    """Per-rate totals of stored lines given as (rate, gross, line IVA): what an invoice prints."""
    by_rate: dict[Decimal, list[Decimal]] = {}
    for rate, gross, tax in lines:
        totals = by_rate.setdefault(rate, [Decimal("0.00"), Decimal("0.00")])
        totals[0] += gross
        totals[1] += tax
    return [RateTotal(rate, gross - tax, tax) for rate, (gross, tax) in sorted(by_rate.items(), reverse=True)]


def credit_note_taxes(refunded: Sequence[tuple[Decimal, Decimal]]) -> list[tuple[Decimal, Decimal, Decimal]]:
    """A credit note's amounts per rate, as (rate, base, IVA), negative, from what a refund gives back
    as (rate, gross) lines (a refunded line's money, each shipping part): the per-rate rule above,
    so base + IVA of each rate is exactly what was given back at that rate."""
    _, totals = split_tax(refunded)
    return [(total.rate, -total.base, -total.tax) for total in totals if total.gross]


def order_tax_totals(order: Order) -> list[RateTotal]:
    """Per-rate totals of an order's stored lines and shipping (empty for an order sold before IVA
    was recorded)."""
    # A line with a rate always has its tax amount (both are written at the checkout's decision).
    lines = [(item.tax_rate, item.subtotal, cast(Decimal, item.tax_amount))
             for item in order.items if item.tax_rate is not None]
    if order.shipping is not None:
        lines += list(order.shipping.taxed_parts)
    return rate_totals(lines)
