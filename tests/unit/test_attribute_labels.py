"""An attribute's key stays data; its label is written per language, and a label typed as a name in
the product form makes the key."""

import pytest

from shop.domain.attribute_labels import attribute_key, generated_label, label_of, parse_label, typed_labels
from shop.domain.catalog import parse_attribute_rows
from shop.domain.errors import InvalidInput


@pytest.mark.parametrize(("typed", "key"), [
    ("Color", "color"), ("Garantía (meses)", "garantia_meses"), ("RAM GB", "ram_gb"), ("Peso (kg)", "peso_kg"),
    ("ram_gb", "ram_gb"), ("$set", "$set"), ("9 vidas", "9 vidas"), ("a.b", "a.b"),
])
def test_a_typed_name_becomes_a_key_unless_it_has_signs_or_starts_with_no_letter(typed, key):
    assert attribute_key(typed) == key


def test_the_row_editor_accepts_color_and_an_accented_name_and_keeps_what_was_typed_as_labels():
    names = ["Color", "Garantía (meses)", "size.width_cm"]
    attributes = parse_attribute_rows(names, ["text", "number", "number"], ["rojo", "24", "30"])
    assert attributes == {"color": "rojo", "garantia_meses": 24, "size": {"width_cm": 30}}
    assert typed_labels(names) == {"color": "Color", "garantia_meses": "Garantía (meses)"}


def test_a_name_with_an_operator_sign_is_still_refused():
    with pytest.raises(InvalidInput):
        parse_attribute_rows(["$set"], ["text"], ["x"])


def test_a_label_is_read_in_the_language_then_in_spanish_then_made_from_the_key():
    labels = {"garantia_meses": {"es": "Garantía (meses)", "en": "Warranty (months)"}, "marca": {"es": "Marca"}}
    assert label_of("garantia_meses", labels, "en") == "Warranty (months)"
    assert label_of("garantia_meses", labels, "es") == "Garantía (meses)"
    assert label_of("marca", labels, "en") == "Marca"
    assert label_of("ram_gb", labels, "en") == generated_label("ram_gb") == "Ram (GB)"


def test_a_label_is_short_and_printable():
    assert parse_label("  Garantía   (meses) ") == "Garantía (meses)"
    with pytest.raises(InvalidInput):
        parse_label("x" * 61)
