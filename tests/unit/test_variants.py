"""Variant rules (shop/domain/variants.py): options, SKUs, the grid's checks and what a cart line names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.domain.catalog import Product, check_sells
from shop.domain.errors import InvalidInput, NotFound
from shop.domain.variants import (
    ProductOption,
    Variant,
    VariantDraft,
    check_variants,
    item_ref,
    parse_item_ref,
    parse_options,
    parse_sku,
    parse_variant_price,
)

PID = "0123456789abcdef01234567"
SIZES = (ProductOption("Talla", ("S", "M", "L")),)


def shirt(**stock: int) -> Product:
    variants = tuple(Variant(f"v{n}", f"CAM-{size}", (size,), units, Decimal("24.90") if size == "L" else None)
                     for n, (size, units) in enumerate(stock.items(), start=1))
    return Product(PID, "Camiseta", "Ropa", Decimal("19.90"), sum(stock.values()), options=SIZES, variants=variants)


def test_a_cart_line_names_a_product_or_one_of_its_variants_and_nothing_else():
    assert parse_item_ref(PID) == (PID, None)
    assert parse_item_ref(f" {PID.upper()}:v2 ") == (PID, "v2")
    assert item_ref(PID, "v2") == f"{PID}:v2" and item_ref(PID, None) == PID
    for bad in (f"{PID}:", f"{PID}:v0", f"{PID}:$gt", f"{PID}:v1.stock", "xyz", f"{PID}:v1:v2", None, 42):
        with pytest.raises(InvalidInput):
            parse_item_ref(bad)


def test_skus_are_printable_codes_compared_without_case():
    assert parse_sku(" cam-m/2026_a.1 ") == "CAM-M/2026_A.1"
    for bad in ("", "-A", "a b", "ñandú", "x" * 65, "$gt", None):
        with pytest.raises(InvalidInput):
            parse_sku(bad)


def test_options_are_named_once_with_distinct_values_and_blank_rows_are_left_out():
    assert parse_options([("Talla", "S, M ,L"), ("", ""), ("Color", "rojo,azul")]) == (
        ProductOption("Talla", ("S", "M", "L")), ProductOption("Color", ("rojo", "azul")))
    for rows in ([("Talla", "")], [("Talla", "S,s")], [("Talla", "S"), ("talla", "M")],
                 [("A", "1"), ("B", "1"), ("C", "1"), ("D", "1")]):
        with pytest.raises(InvalidInput):
            parse_options(rows)


def test_a_variant_price_is_optional_with_two_decimals_and_a_decimal_comma():
    assert parse_variant_price("") is None
    assert parse_variant_price("19,90") == Decimal("19.90")
    for bad in ("19.999", "0", "-1", "abc", "1e3"):
        with pytest.raises(InvalidInput):
            parse_variant_price(bad)


def test_the_grid_keeps_existing_keys_and_their_stock_and_numbers_new_ones_after_the_highest():
    existing = (Variant("v1", "CAM-S", ("S",), 4), Variant("v3", "CAM-M", ("M",), 0))
    variants = check_variants(SIZES, [VariantDraft("v1", "CAM-S2", ("S",), None, 99),
                                      VariantDraft(None, "CAM-L", ("L",), Decimal("24.90"), 5)], existing)
    assert variants == [Variant("v1", "CAM-S2", ("S",), 4), Variant("v4", "CAM-L", ("L",), 5, Decimal("24.90"))]


def test_a_removed_variants_key_is_never_given_again():
    existing = (Variant("v1", "CAM-S", ("S",), 4),)  # v2 and v3 were removed: order lines may still name them
    variants = check_variants(SIZES, [VariantDraft("v1", "CAM-S", ("S",), None),
                                      VariantDraft(None, "CAM-L", ("L",), None, 1)], existing, last_number=3)
    assert [variant.key for variant in variants] == ["v1", "v4"]


@pytest.mark.parametrize("drafts, message", [
    ([VariantDraft(None, "A", ("S",), None), VariantDraft(None, "B", ("S",), None)], "same option values"),
    ([VariantDraft(None, "A", ("S",), None), VariantDraft(None, "A", ("M",), None)], "appears twice"),
    ([VariantDraft(None, "A", ("XXL",), None)], "not one of the values"),
    ([VariantDraft(None, "A", ("S", "rojo"), None)], "one value per option"),
    ([VariantDraft("v7", "A", ("S",), None)], "out of date"),
    ([], "at least one variant"),
])
def test_the_grid_refuses_what_would_make_two_variants_alike_or_one_unknown(drafts, message):
    with pytest.raises(InvalidInput, match=message):
        check_variants(SIZES, drafts)


def test_a_variant_with_units_cannot_be_dropped_from_the_grid():
    existing = (Variant("v1", "CAM-S", ("S",), 2), Variant("v2", "CAM-M", ("M",), 0))
    assert [v.key for v in check_variants(SIZES, [VariantDraft("v1", "CAM-S", ("S",), None)], existing)] == ["v1"]
    with pytest.raises(InvalidInput, match="still has 2 units"):
        check_variants(SIZES, [VariantDraft("v2", "CAM-M", ("M",), None)], existing)


def test_a_product_in_sizes_prices_labels_and_stocks_each_size_and_sells_only_those():
    product = shirt(S=2, M=0, L=1)
    assert product.price_of("v3") == Decimal("24.90") and product.price_of("v1") == Decimal("19.90")
    assert product.price_range == (Decimal("19.90"), Decimal("24.90"))
    assert product.label_of("v2") == "Talla: M" and product.sku_of("v2") == "CAM-M"
    assert product.stock_of("v2") == 0 and product.stock_of("v3") == 1
    check_sells(product, "v2")
    with pytest.raises(InvalidInput, match="Choose one"):
        check_sells(product, None)
    with pytest.raises(NotFound):
        check_sells(product, "v9")
    plain = Product(PID, "Taza", "Hogar", Decimal("5.00"), 3, sku="TAZA-1")
    check_sells(plain, None)
    with pytest.raises(NotFound):
        check_sells(plain, "v1")
    assert plain.sku_of(None) == "TAZA-1" and plain.price_range == (Decimal("5.00"), Decimal("5.00"))
