"""What a cart will cost before it is checked out: worked out by the very rules checkout uses
(shop.domain.orders.priced_lines, shop.domain.taxes), so the total shown is the order's total."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from shop.domain.discounts import DiscountCode
from shop.domain.orders import OrderLine, priced_lines
from shop.domain.shipping import ShippingMethod
from shop.domain.taxes import RateTotal, rate_totals


@dataclass(frozen=True)
class CartTotal:
    """The cart's order as it would be placed with one shipping method (or with none)."""

    method: ShippingMethod | None
    goods: Decimal  # the lines at their prices
    discount: Decimal
    shipping: Decimal  # 0,00 when free (or nothing is shipped for a fee)
    taxes: list[RateTotal]  # the IVA included, per rate, shipping included
    total: Decimal


def cart_totals(lines: Sequence[OrderLine], discount: DiscountCode | None, methods: Sequence[ShippingMethod],
                tax_rates: Mapping[str, Decimal], shipping_rule: str = "follow_goods") -> list[CartTotal]:
    """One total per shipping method the customer can choose (one without shipping when the shop
    charges none), in the methods' order."""
    totals = []
    choices: Sequence[ShippingMethod | None] = methods or [None]
    for method in choices:
        priced, shipping, shipping_parts = priced_lines(list(lines), discount, method, tax_rates["general"],
                                                        shipping_rule)
        goods = sum((line.gross for line in priced), Decimal("0.00"))
        cut = sum((line.discount_amount for line in priced), Decimal("0.00"))
        taxed = [(line.tax_rate, line.subtotal, line.tax_amount or Decimal("0.00")) for line in priced]
        taxed += shipping_parts
        totals.append(CartTotal(method, goods, cut, shipping, rate_totals(taxed), goods - cut + shipping))
    return totals
