"""Spanish tax ids by their control character, the data of a full invoice, and the simplified limit."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from shop.domain.errors import InvalidInput
from shop.domain.invoicing import needs_full_invoice, normalize_tax_id, parse_invoice_party, tax_id_kind


@pytest.mark.parametrize("tax_id, kind", [
    ("12345678Z", "NIF"),  # 12345678 % 23 = 14 → Z
    ("00000000T", "NIF"),
    ("X1234567L", "NIE"),  # X → 0: 01234567 % 23 = 19 → L
    ("Y1234567X", "NIE"),  # Y → 1: 11234567 % 23 = 10 → X
    ("Z1234567R", "NIE"),  # Z → 2
    ("B12345674", "CIF"),  # a company: even digits 2+4+6 = 12, odd 1,3,5,7 doubled → 2+6+1+5 = 14; 26 → 4
    ("A58818501", "CIF"),
    ("Q2826000H", "CIF"),  # a public body: the control is a letter
])
def test_valid_tax_ids_are_recognised_by_their_control_character(tax_id, kind):
    assert tax_id_kind(tax_id) == kind


@pytest.mark.parametrize("tax_id", [
    "12345678A",  # the wrong letter
    "X1234567T",
    "B12345675",  # the wrong control digit
    "Q2826000A",  # a public body with the wrong letter
    "B1234567D",  # a company's control must be a digit (D would be right for a letter)
    "1234567Z", "123456789", "ABCDEFGHI", "",
])
def test_a_wrong_control_character_or_shape_is_refused(tax_id):
    assert tax_id_kind(tax_id) is None


def test_a_tax_id_is_read_as_people_type_it():
    assert normalize_tax_id(" 12.345.678-z ") == "12345678Z"
    assert parse_invoice_party("  Ana  Pérez ", "12345678-z", "Calle Mayor 1, 28013 Madrid").tax_id == "12345678Z"


@pytest.mark.parametrize("name, tax_id, address, says", [
    ("", "12345678Z", "Calle Mayor 1", "name"),
    ("Ana", "12345678A", "Calle Mayor 1", "not a valid NIF"),
    ("Ana", "12345678Z", " ", "fiscal address"),
])
def test_a_full_invoice_needs_a_name_a_valid_tax_id_and_an_address(name, tax_id, address, says):
    with pytest.raises(InvalidInput, match=says):
        parse_invoice_party(name, tax_id, address)


def test_an_order_over_the_limit_needs_a_full_invoice_and_one_at_the_limit_does_not():
    assert not needs_full_invoice(D("400.00"), D("400.00"))
    assert needs_full_invoice(D("400.01"), D("400.00"))
