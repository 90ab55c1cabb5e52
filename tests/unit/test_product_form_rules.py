"""A product form reports every wrong field at once, and a new category that looks like an existing
one is taken for a slip; a bulk price change is read in per cent and rounded to the cent."""

from decimal import Decimal

import pytest

from shop.domain.catalog import changed_price, lookalike_category, new_product, parse_percent_change
from shop.domain.errors import InvalidFields, InvalidInput

CATEGORIES = ["Electrónica", "Libros", "Ropa", "Hogar y jardín"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("libros", "Libros"), ("LIBROS", "Libros"), ("Electronica", "Electrónica"), ("Libross", "Libros"),
    ("Eletrónica", "Electrónica"), ("Hogar y jardin", "Hogar y jardín"),
])
def test_a_slip_of_an_existing_category_is_recognised(typed, meant):
    assert lookalike_category(typed, CATEGORIES) == meant


@pytest.mark.parametrize("typed", ["Libros", "Ropa de playa", "Juguetes", "Bebidas"])
def test_an_existing_or_genuinely_new_category_is_not_a_slip(typed):
    assert lookalike_category(typed, CATEGORIES) is None


def test_every_wrong_field_of_a_new_product_is_reported_together():
    with pytest.raises(InvalidFields) as refused:
        new_product(name="", category="", price="gratis", stock=-1, attributes={}, description="x" * 6000)
    assert set(refused.value.problems) == {"name", "category", "price", "stock", "description"}
    assert str(refused.value) == str(refused.value.problems["name"])  # the message is the first field's


@pytest.mark.parametrize(("typed", "percent"), [("-15", "-15"), ("+7,5", "7.5"), ("300", "300"), ("-90", "-90")])
def test_a_price_change_is_read_in_per_cent(typed, percent):
    assert parse_percent_change(typed) == Decimal(percent)


@pytest.mark.parametrize("typed", ["0", "-91", "301", "1e2", "diez", "", "-0,001"])
def test_a_price_change_out_of_range_or_unreadable_is_refused(typed):
    with pytest.raises(InvalidInput):
        parse_percent_change(typed)


def test_a_changed_price_is_rounded_to_the_cent_half_up():
    assert changed_price(Decimal("19.99"), Decimal("10")) == Decimal("21.99")
    assert changed_price(Decimal("10.00"), Decimal("-15")) == Decimal("8.50")
    assert changed_price(Decimal("0.05"), Decimal("10")) == Decimal("0.06")  # 0,055 → 0,06
