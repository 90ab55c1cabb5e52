"""Money is exact; account input is validated before it reaches a database."""

from decimal import Decimal

import pytest

from shop.domain.accounts import Role, normalize_email, parse_role, validate_full_name, validate_password
from shop.domain.errors import InvalidInput
from shop.domain.money import to_money


def test_money_is_rounded_half_up_to_cents():
    assert to_money("10.005") == Decimal("10.01")
    assert to_money(Decimal("3")) == Decimal("3.00")


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        to_money(0.1)


@pytest.mark.parametrize("value", ["abc", "NaN", "Infinity", None])
def test_money_refuses_non_amounts(value):
    with pytest.raises(ValueError):
        to_money(value)


def test_emails_are_compared_in_lower_case():
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"


@pytest.mark.parametrize("email", ["", "ana", "ana@", "@x.es", "a b@x.es", "a@x", {"$ne": 1}, "a" * 250 + "@x.es"])
def test_invalid_emails_are_refused(email):
    with pytest.raises(InvalidInput):
        normalize_email(email)


def test_short_and_huge_passwords_are_refused():
    with pytest.raises(InvalidInput, match="at least 10"):
        validate_password("short")
    with pytest.raises(InvalidInput):
        validate_password("x" * 257)
    assert validate_password("a long enough one") == "a long enough one"


def test_names_are_trimmed_and_required():
    assert validate_full_name("  Ana   García ") == "Ana García"
    with pytest.raises(InvalidInput):
        validate_full_name("   ")


def test_roles_are_the_three_of_the_seed():
    assert {r.value for r in Role} == {"admin", "customer", "auditor"}
    with pytest.raises(InvalidInput, match="Unknown role"):
        parse_role("superuser")
