"""The shipping's IVA follows the goods it carries (SHIPPING_TAX_RULE=follow_goods): docs/money.md
has these examples worked out."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shop.domain.taxes import shipping_by_rate

GENERAL = D("21")


def test_a_parcel_of_books_pays_the_books_rate():
    assert shipping_by_rate(D("4.95"), [(D("4"), D("30.00"))], GENERAL) == [(D("4"), D("4.95"))]


def test_mixed_goods_share_it_by_their_taxable_bases_and_the_parts_add_up_to_the_cent():
    # books 20,00 at 4 % (base 19,23) and a mug 12,50 at 21 % (base 10,33): 4,95 × 19,23 / 29,56
    # = 3,2202… and 4,95 × 10,33 / 29,56 = 1,7298…; the cent left goes to the larger remainder
    parts = shipping_by_rate(D("4.95"), [(D("4"), D("20.00")), (D("21"), D("12.50"))], GENERAL)
    assert parts == [(D("21"), D("1.73")), (D("4"), D("3.22"))]


@pytest.mark.parametrize("shipping", [D("0.01"), D("0.02"), D("3.33"), D("4.95"), D("9.99"), D("100.00")])
def test_the_parts_always_add_up_to_the_shipping(shipping):
    goods = [(D("21"), D("9.99")), (D("10"), D("0.01")), (D("4"), D("33.33")), (D("21"), D("0.50"))]
    parts = shipping_by_rate(shipping, goods, GENERAL)
    assert sum(part for _, part in parts) == shipping and all(part > 0 for _, part in parts)


def test_goods_that_cost_nothing_leave_it_at_the_general_rate():
    assert shipping_by_rate(D("4.95"), [(D("4"), D("0.00"))], GENERAL) == [(GENERAL, D("4.95"))]


def test_free_shipping_has_no_parts_and_the_general_rule_ignores_the_goods():
    assert shipping_by_rate(D("0.00"), [(D("4"), D("30.00"))], GENERAL) == []
    assert shipping_by_rate(D("4.95"), [(D("4"), D("30.00"))], GENERAL, "general") == [(GENERAL, D("4.95"))]
