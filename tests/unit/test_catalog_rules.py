"""Catalog query validation: what reaches a MongoDB filter is always a validated scalar."""

from decimal import Decimal

import pytest

from shop.domain.catalog import Product, new_product, parse_product_id
from shop.domain.errors import InvalidInput
from shop.domain.filters import parse_row_position
from shop.domain.listing import CatalogQuery, attribute_value_candidates, parse_catalog_query


def q(**params):
    return parse_catalog_query({k: v if isinstance(v, list) else [v] for k, v in params.items()})


def test_an_empty_query_is_the_first_page_sorted_by_name():
    assert q() == CatalogQuery(search="", category=None, attributes=(), sort="name", after=None, before=None,
                               per_page=12)


def test_search_is_kept_as_literal_text_even_with_regex_metacharacters():
    assert q(q="  .*[(\\  ").search == ".*[(\\"


def test_a_mongodb_operator_payload_is_just_text_to_search_for():
    assert q(q='{"$gt": ""}').search == '{"$gt": ""}'


def test_unknown_parameters_are_ignored_not_turned_into_filters():
    assert q(**{"q[$gt]": "", "name": "x"}) == q()


def test_an_over_long_search_is_refused():
    with pytest.raises(InvalidInput, match="at most 100"):
        q(q="x" * 101)


@pytest.mark.parametrize("token", ["0", "-1", "abc", "1.5", "1e3", "999999999", "²", "١٢", "３", "", "A" * 900])
def test_positions_of_staff_lists_must_be_tokens_the_shop_made(token):
    with pytest.raises(InvalidInput):
        parse_row_position(token, "users")


def test_a_repeated_parameter_is_refused():
    with pytest.raises(InvalidInput, match="more than once"):
        q(sort=["name", "price_asc"])


@pytest.mark.parametrize("sort", ["price", "$natural", "name;drop"])
def test_only_known_sort_orders_are_accepted(sort):
    with pytest.raises(InvalidInput):
        q(sort=sort)


@pytest.mark.parametrize("key", ["$where", "a.b", "Ram", "x" * 41, "1abc", "a-b", ""])
def test_attribute_filter_keys_must_be_plain_identifiers(key):
    with pytest.raises(InvalidInput):
        q(**{f"attr.{key}": "1"})


def test_attribute_filters_are_collected_and_empty_ones_dropped():
    query = q(**{"attr.ram_gb": "16", "attr.marca": "", "category": "Portátiles"})
    assert query.attributes == (("ram_gb", "16"),)
    assert query.category == "Portátiles"


def test_too_many_attribute_filters_are_refused():
    with pytest.raises(InvalidInput):
        q(**{f"attr.k{i}": "v" for i in range(7)})


def test_filter_values_match_the_typed_attribute_values_they_may_mean():
    assert attribute_value_candidates("16") == ["16", 16]
    assert attribute_value_candidates("6.2") == ["6.2", 6.2]
    assert attribute_value_candidates("true") == ["true", True]
    assert attribute_value_candidates("negro") == ["negro"]


@pytest.mark.parametrize("raw", ["zzz", "0123", "0123456789abcdef0123456g", {"$gt": ""}, None])
def test_malformed_product_ids_are_refused(raw):
    with pytest.raises(InvalidInput):
        parse_product_id(raw)


def test_product_ids_are_normalised_to_lower_case():
    assert parse_product_id("0123456789ABCDEF01234567") == "0123456789abcdef01234567"


def test_a_product_card_shows_only_scalar_attributes():
    product = Product("a" * 24, "X", "C", Decimal("1.00"), 0,
                      {"cpu": "i7", "dims": {"w": 1}, "colors": ["red"], "ram": 8})
    assert product.key_attributes() == [("cpu", "i7"), ("ram", 8)]
    assert not product.in_stock


@pytest.mark.parametrize("field, value", [
    ("name", ""), ("name", "x" * 201), ("category", " "), ("price", "-0.01"), ("price", "abc"),
    ("price", "0.00"), ("price", "1000000.00"),
    ("price", 1.5), ("stock", -1), ("stock", 1.5), ("stock", True), ("attributes", ["a"]),
])
def test_a_new_product_with_an_impossible_field_is_refused(field, value):
    fields = {"name": "Camiseta", "category": "Camisetas", "price": "9.90", "stock": 3, "attributes": {}}
    with pytest.raises(InvalidInput):
        new_product(**{**fields, field: value})


def test_a_new_product_has_exact_money():
    assert new_product("A", "B", "9.9", 0, {})["price"] == Decimal("9.90")


def test_the_largest_possible_order_fits_its_numeric_column_and_none_is_free():
    from shop.domain.money import MAX_PRICE, MIN_PRICE, NUMERIC_12_2_MAX
    from shop.domain.orders import MAX_LINES, MAX_QUANTITY_PER_LINE

    assert MAX_PRICE * MAX_QUANTITY_PER_LINE * MAX_LINES <= NUMERIC_12_2_MAX
    assert MIN_PRICE > 0
