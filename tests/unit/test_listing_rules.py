"""Catalog listing rules: folding, search words, sort keys, keyset positions, facet values."""

from decimal import Decimal

import pytest

from shop.adapters.postgres.catalog_search import tsquery
from shop.domain.catalog import Product
from shop.domain.errors import InvalidInput
from shop.domain.listing import (
    CatalogEntry,
    Position,
    facet_attributes,
    fold,
    index_words,
    name_sort_key,
    parse_catalog_query,
    parse_position,
    words_of,
)
from tests.catalog_counts import expected_counts


def q(**params):
    return parse_catalog_query({k: v if isinstance(v, list) else [v] for k, v in params.items()})


def test_folding_ignores_case_and_accents():
    assert fold("Café ÁRBOL Pingüino Niño") == "cafe arbol pinguino nino"


def test_words_are_letters_and_digits_only_so_no_input_is_a_pattern():
    assert words_of('Auriculares Sony WH-1000XM5 (negro) .* $gt {"a": 1}') == [
        "auriculares", "sony", "wh", "1000xm5", "negro", "gt", "a", "1"]
    assert words_of(".* [ ( \\ ^ $") == []


def test_repeated_words_are_kept_once_in_order():
    assert words_of("ultra Ultra ÚLTRA mini") == ["ultra", "mini"]


def test_a_product_is_found_by_the_words_of_its_name_and_category():
    assert index_words("Portátil Ultra", "Informática") == ["portatil", "ultra", "informatica"]


def test_names_sort_ignoring_case_and_accents_with_n_tilde_after_n():
    names = ["Ñandú", "zapato", "Árbol", "nube", "Nz", "oso", "arbol b"]
    assert sorted(names, key=name_sort_key) == ["Árbol", "arbol b", "nube", "Nz", "Ñandú", "oso", "zapato"]


def test_a_search_becomes_a_prefix_query_on_its_last_word():
    assert tsquery(["cafe", "ital"]) == "'cafe' & 'ital':*"


def test_only_top_level_scalars_and_scalar_lists_are_filterable():
    attributes = {"marca": "HP", "ram_gb": 16, "ssd": True, "peso": 1.5, "dims": {"w": 1},
                  "colores": ["negro", {"x": 1}, 3], "nota": "x" * 101}
    assert facet_attributes(attributes) == {"marca": "HP", "ram_gb": 16, "ssd": True, "peso": 1.5,
                                            "colores": ["negro", 3]}


@pytest.mark.parametrize("sort, key", [("name", "cafe"), ("price_asc", Decimal("19.99")),
                                       ("price_desc", Decimal("0.00"))])
def test_a_position_survives_its_round_trip_through_a_link(sort, key):
    position = Position(sort, key, "0123456789abcdef01234567")
    assert parse_position(position.token(), sort) == position
    assert q(sort=sort, after=position.token()).after == position


@pytest.mark.parametrize("token", [
    "", "!!!", "x" * 801, "WyJuYW1lIl0",  # ["name"]
    Position("price_asc", Decimal("1.00"), "0" * 24).token(),  # another order's position
    Position("name", "a", "not-an-id-000000000000000").token(),
    "eyJ4IjoxfQ",  # {"x":1}
])
def test_a_forged_or_foreign_position_is_refused(token):
    with pytest.raises(InvalidInput, match="not valid any more"):
        parse_position(token, "name")


@pytest.mark.parametrize("key", ["1e3", "²", "１.00", "-1.00", "1.5", "NaN"])
def test_a_price_position_needs_an_ascii_amount(key):
    token = Position("price_asc", key, "0" * 24).token()
    with pytest.raises(InvalidInput):
        parse_position(token, "price_asc")


def test_after_and_before_together_are_refused():
    token = Position("name", "a", "0" * 24).token()
    with pytest.raises(InvalidInput):
        q(after=token, before=token)


@pytest.mark.parametrize("field", ["q", "category", "attr.marca"])
def test_control_characters_in_searches_and_filters_are_refused(field):
    with pytest.raises(InvalidInput, match="control characters"):
        q(**{field: "caf\x00e"})


def test_an_exact_name_is_looked_for_only_when_listing_by_name():
    assert q(q="Portátil").exact_name_key == "portatil"
    assert q(q="Portátil", sort="price_asc").exact_name_key is None
    assert q().exact_name_key is None


def product(pid: str, category: str, attributes: dict, deleted: bool = False) -> Product:
    return Product(pid * 24, "Nombre", category, Decimal("1.00"), 1, attributes, deleted=deleted, revision=1)


def test_counts_cover_products_on_sale_and_scalar_facets_only():
    entries = [CatalogEntry.of(p) for p in [
        product("a", "Libros", {"idioma": "es", "tags": ["x"]}),
        product("b", "Libros", {"idioma": "en"}),
        product("c", "Libros", {"idioma": "es"}, deleted=True),
        product("d", "Móviles", {"ram_gb": 8}),
    ]]
    counts = expected_counts(entries)
    assert counts["categories"] == {"Libros": 2, "Móviles": 1}
    assert counts["facet_values"] == {("Libros", "idioma", '"es"'): 1, ("Libros", "idioma", '"en"'): 1,
                                      ("Móviles", "ram_gb", "8"): 1}
    assert counts["facet_keys"] == {("Libros", "idioma"): 2, ("Móviles", "ram_gb"): 1}


def test_filter_values_come_in_the_order_a_person_reads_them():
    from shop.domain.listing import sorted_facet_values

    assert sorted_facet_values(["XL", "M", "S", "L", "XS"]) == ["XS", "S", "M", "L", "XL"]
    assert sorted_facet_values([16, 8, 32.5, 4]) == [4, 8, 16, 32.5]
    assert sorted_facet_values(["rojo", "Azul", "ámbar", "Negro"]) == ["ámbar", "Azul", "Negro", "rojo"]
    assert sorted_facet_values(["M", "rojo", "S"]) == ["M", "rojo", "S"]  # not all sizes: as text
    assert sorted_facet_values([True, 3, "x", False]) == [3, False, True, "x"]
