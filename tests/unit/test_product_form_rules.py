"""A product form reports every wrong field at once, and a new category that looks like an existing
one is taken for a slip."""

import pytest

from shop.domain.catalog import lookalike_category, new_product
from shop.domain.errors import InvalidFields

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
