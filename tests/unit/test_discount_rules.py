"""Discount codes: what a code takes off each line, and which codes and forms are refused."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal as D

import pytest

from shop.domain.discounts import DiscountCode, normalize_code, parse_discount_form
from shop.domain.errors import Conflict, InvalidInput

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)


def test_a_code_is_typed_in_any_case_with_spaces():
    assert normalize_code("  verano 10 ") == "VERANO10" and normalize_code("") is None
    for bad in ("$gt", "a", "x" * 40, "ÑANDÚ", "a.b"):
        with pytest.raises(InvalidInput):
            normalize_code(bad)


def test_a_percentage_comes_off_each_eligible_line_rounded_half_up():
    code = DiscountCode("LIBROS15", "percent", D("15"), categories=("Libros",))
    assert code.line_discounts([(D("19.95"), "Libros"), (D("10.00"), "Menaje"), (D("0.10"), "Libros")]) == \
        [D("2.99"), D("0.00"), D("0.02")]  # 2.9925 → 2.99; 0.015 → 0.02


def test_a_fixed_amount_is_shared_by_cents_and_never_exceeds_the_lines():
    code = DiscountCode("MENOS10", "fixed", D("10.00"))
    assert code.line_discounts([(D("10.00"), "a"), (D("10.00"), "b"), (D("10.00"), "c")]) == \
        [D("3.34"), D("3.33"), D("3.33")]
    assert code.line_discounts([(D("4.00"), "a"), (D("3.00"), "b")]) == [D("4.00"), D("3.00")]  # capped
    rng = random.Random(4)
    for _ in range(500):
        lines = [(D(rng.randint(1, 20000)) / 100, rng.choice("ab")) for _ in range(rng.randint(1, 6))]
        amount = D(rng.randint(1, 30000)) / 100
        cuts = DiscountCode("X10", "fixed", amount, categories=("a",)).line_discounts(lines)
        eligible = sum((g for g, c in lines if c == "a"), D("0.00"))
        assert sum(cuts) == min(amount, eligible)
        for cut, (gross, category) in zip(cuts, lines, strict=True):
            assert D(0) <= cut <= gross and (category == "a" or cut == 0)


@pytest.mark.parametrize("code, customer_uses, reason", [
    (DiscountCode("OFF", "percent", D(5), active=False), 0, "cannot be used"),
    (DiscountCode("OLD", "percent", D(5), ends_at=NOW), 0, "cannot be used"),
    (DiscountCode("SOON", "percent", D(5), starts_at=NOW + dt.timedelta(seconds=1)), 0, "cannot be used"),
    (DiscountCode("FULL", "percent", D(5), max_uses=3, uses=3), 0, "cannot be used"),
    (DiscountCode("ONCE", "percent", D(5), max_uses_per_customer=1), 1, "as many times"),
    (DiscountCode("MIN", "percent", D(5), min_order=D("30.01")), 0, "at least"),
    (DiscountCode("CAT", "percent", D(5), categories=("Libros",)), 0, "does not apply"),
])
def test_a_code_that_cannot_apply_says_why(code, customer_uses, reason):
    with pytest.raises(Conflict) as refused:
        code.check(NOW, [(D("30.00"), "Menaje")], customer_uses)
    assert reason in refused.value.template


def test_a_code_that_applies_passes():
    DiscountCode("OK", "fixed", D(5), min_order=D("30.00"), starts_at=NOW, max_uses=3, uses=2).check(
        NOW, [(D("30.00"), "Menaje")])


@pytest.mark.parametrize("form", [
    {"code": "", "kind": "percent", "value": "10"}, {"code": "X1X", "kind": "gift", "value": "10"},
    {"code": "X1X", "kind": "percent", "value": "101"}, {"code": "X1X", "kind": "fixed", "value": "-5"},
    {"code": "X1X", "kind": "fixed", "value": "NaN"}, {"code": "X1X", "kind": "fixed", "value": "1.005"},
    {"code": "X1X", "kind": "fixed", "value": "5", "max_uses": "0"},
    {"code": "X1X", "kind": "fixed", "value": "5", "max_uses": "²"},
    {"code": "X1X", "kind": "fixed", "value": "5", "starts": "2026-12-01", "ends": "2026-11-01"},
])
def test_a_bad_code_form_is_refused(form):
    with pytest.raises(InvalidInput):
        parse_discount_form(form)


def test_a_code_form_is_read_in_spanish_notation():
    code = parse_discount_form({"code": "navidad", "kind": "fixed", "value": "5,50", "min_order": "30",
                                "categories": "Libros, Juguetes,", "ends": "2026-12-26"})
    assert (code.code, code.value, code.min_order, code.categories) == ("NAVIDAD", D("5.50"), D("30"),
                                                                         ("Juguetes", "Libros"))
    assert code.ends_at == dt.datetime(2026, 12, 26, tzinfo=dt.UTC)
