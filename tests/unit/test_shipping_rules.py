"""Addresses (Spain and the EU) and what shipping costs, with its IVA."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shop.domain.errors import InvalidInput
from shop.domain.orders import OrderLine, priced_lines
from shop.domain.shipping import ShippingMethod, parse_address, parse_shipping_method_form

SPAIN = {"full_name": "Ana Pérez", "street": "Calle Mayor 1, 2º B", "postal_code": "28 013", "city": "Madrid",
         "province": "Madrid", "country": "ES", "phone": "+34 612 345 678"}


def test_a_spanish_address_is_kept_tidy():
    address = parse_address(SPAIN)
    assert (address.postal_code, address.phone, address.country) == ("28013", "+34612345678", "ES")


def test_an_address_in_another_eu_country_is_accepted():
    address = parse_address({**SPAIN, "country": "fr", "postal_code": "75001", "province": "",
                             "phone": "+33 6 12 34 56 78"})
    assert (address.country, address.postal_code) == ("FR", "75001")


@pytest.mark.parametrize("change", [
    {"postal_code": "53001"}, {"postal_code": "2801"}, {"postal_code": "00123"}, {"postal_code": "28O13"},
    {"phone": "512 345 678"}, {"phone": "61234567"}, {"phone": "６１２３４５６７８"}, {"country": "US"},
    {"country": "GB"}, {"full_name": " "}, {"street": ""}, {"city": "x" * 81}, {"province": ""},
    {"full_name": "Ana\x00"},
])
def test_a_wrong_address_is_refused_with_what_to_fix(change):
    with pytest.raises(InvalidInput):
        parse_address({**SPAIN, **change})


def test_shipping_is_free_above_its_amount_of_goods():
    method = ShippingMethod(1, "Estándar", D("4.95"), D("50.00"), ("ES",))
    assert method.price_for(D("49.99")) == D("4.95") and method.price_for(D("50.00")) == D("0.00")
    assert method.ships_to("ES") and not method.ships_to("PT")


def test_shipping_follows_the_goods_rates_and_each_part_shares_its_rates_iva():
    book = OrderLine("a" * 24, "Libro", D("19.95"), 1, D("4"))
    mug = OrderLine("b" * 24, "Taza", D("10.00"), 1, D("21"))
    method = ShippingMethod(1, "Estándar", D("4.95"), None, ("ES",))
    lines, shipping, parts = priced_lines([book, mug], None, method, D("21"))
    # bases 19,18 (4 %) and 8,26 (21 %) share the 4,95 as 3,46 and 1,49; then 21 %: 10,00 + 1,49 =
    # 11,49 → IVA 1,99 = 1,73 (mug) + 0,26 (shipping); 4 %: 19,95 + 3,46 = 23,41 → 0,90 = 0,77 + 0,13
    assert shipping == D("4.95")
    assert parts == [(D("21"), D("1.49"), D("0.26")), (D("4"), D("3.46"), D("0.13"))]
    assert [line.tax_amount for line in lines] == [D("0.77"), D("1.73")]


def test_with_the_general_rule_shipping_is_taxed_at_the_general_rate_with_the_lines():
    book = OrderLine("a" * 24, "Libro", D("19.95"), 1, D("4"))
    mug = OrderLine("b" * 24, "Taza", D("10.00"), 1, D("21"))
    method = ShippingMethod(1, "Estándar", D("4.95"), None, ("ES",))
    lines, shipping, parts = priced_lines([book, mug], None, method, D("21"), "general")
    # 21 %: 10,00 + 4,95 = 14,95 → base 12,36, IVA 2,59, shared 1,73 (mug) + 0,86 (shipping)
    assert (shipping, parts) == (D("4.95"), [(D("21"), D("4.95"), D("0.86"))])
    assert [line.tax_amount for line in lines] == [D("0.77"), D("1.73")]


def test_a_shipping_method_form_is_read_in_spanish_notation():
    assert parse_shipping_method_form({"name": "Exprés", "price": "6,90", "free_above": "", "countries": "es, pt"}) == \
        {"name": "Exprés", "price": D("6.90"), "free_above": None, "countries": ("ES", "PT")}
    for bad in ({"name": "", "price": "1"}, {"name": "X", "price": "-1"},
                {"name": "X", "price": "1", "countries": "US"}, {"name": "X", "price": "1", "free_above": "0"}):
        with pytest.raises(InvalidInput):
            parse_shipping_method_form(bad)
