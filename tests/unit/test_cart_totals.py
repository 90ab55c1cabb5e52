"""What a cart will cost, worked out before checkout by the rules checkout itself uses."""

from __future__ import annotations

from decimal import Decimal as D

from shop.domain.cart import cart_totals
from shop.domain.discounts import DiscountCode
from shop.domain.orders import OrderLine, order_total, priced_lines
from shop.domain.shipping import ShippingMethod
from shop.domain.taxes import DEFAULT_RATES

BOOK = OrderLine("b" * 24, "Rayuela", D("10.00"), 2, D("4"), category="Libros")
MUG = OrderLine("m" * 24, "Taza", D("12.50"), 1, D("21"), category="Menaje")
STANDARD = ShippingMethod(1, "Estándar", D("4.95"), D("50.00"), ("ES",))
EXPRESS = ShippingMethod(2, "Urgente", D("9.95"), None, ("ES",))


def test_each_shipping_method_gives_the_total_the_order_will_have_shipping_and_iva_included():
    standard, express = cart_totals([BOOK, MUG], None, [STANDARD, EXPRESS], DEFAULT_RATES)
    assert (standard.goods, standard.discount, standard.shipping, standard.total) == \
        (D("32.50"), D("0.00"), D("4.95"), D("37.45"))
    assert (express.shipping, express.total) == (D("9.95"), D("42.45"))
    # the shipping follows the goods: bases 19,23 (books, 4 %) and 10,33 (the mug, 21 %) share its
    # 4,95 as 3,22 and 1,73; so 21 %: 12,50 + 1,73 = 14,23 → 2,47 of IVA; 4 %: 23,22 → 0,89
    assert [(r.rate, r.base, r.tax) for r in standard.taxes] == [(D("21"), D("11.76"), D("2.47")),
                                                                  (D("4"), D("22.33"), D("0.89"))]
    priced, shipping, _ = priced_lines([BOOK, MUG], None, STANDARD, DEFAULT_RATES["general"])
    assert standard.total == order_total(priced) + shipping  # what checkout charges


def test_with_the_general_rule_the_shipping_is_taxed_at_21_whatever_it_carries():
    standard, = cart_totals([BOOK, MUG], None, [STANDARD], DEFAULT_RATES, shipping_rule="general")
    # 12,50 + 4,95 = 17,45 at 21 % → 3,03 of IVA; the books alone at 4 %
    assert [(r.rate, r.base, r.tax) for r in standard.taxes] == [(D("21"), D("14.42"), D("3.03")),
                                                                  (D("4"), D("19.23"), D("0.77"))]
    assert standard.total == D("37.45")  # the rule moves IVA between rates, never the price


def test_a_discount_comes_off_before_free_shipping_is_decided():
    big = OrderLine("c" * 24, "Cafetera", D("55.00"), 1, D("21"), category="Cafeteras")
    free, = cart_totals([big], None, [STANDARD], DEFAULT_RATES)
    assert (free.shipping, free.total) == (D("0.00"), D("55.00"))
    code = DiscountCode("MENOS10", "fixed", D("10.00"))
    charged, = cart_totals([big], code, [STANDARD], DEFAULT_RATES)
    assert (charged.discount, charged.shipping, charged.total) == (D("10.00"), D("4.95"), D("49.95"))


def test_without_shipping_methods_the_cart_is_its_lines():
    only, = cart_totals([BOOK], None, [], DEFAULT_RATES)
    assert (only.method, only.shipping, only.total) == (None, D("0.00"), D("20.00"))
    assert [(r.rate, r.tax) for r in only.taxes] == [(D("4"), D("0.77"))]
