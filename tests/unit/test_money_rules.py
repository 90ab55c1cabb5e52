"""IVA on prices that include it: the cent rules (docs/money.md), checked on worked examples and on
many random orders."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from shop.domain.errors import InvalidInput
from shop.domain.taxes import (
    DEFAULT_RATES,
    base_of,
    parse_tax_class,
    parse_tax_rates,
    rate_totals,
    split_tax,
)


def test_a_book_and_three_mugs_split_their_iva_per_rate_and_per_line():
    # docs/money.md, example 1: three 10,00 € lines at 21 % and one 19,95 € book at 4 %
    shares, totals = split_tax([(D(21), D("10.00")), (D(21), D("10.00")), (D(21), D("10.00")), (D(4), D("19.95"))])
    assert [(t.rate, t.base, t.tax) for t in totals] == [(D(21), D("24.79"), D("5.21")), (D(4), D("19.18"), D("0.77"))]
    # 5,21 € over three equal lines: 1,7366… each, so one cent left over goes to the first line
    assert shares == [D("1.74"), D("1.74"), D("1.73"), D("0.77")]


def test_tiny_lines_never_get_more_iva_than_the_rate_has():
    shares, totals = split_tax([(D(21), D("0.01"))] * 3)
    assert totals[0].tax == D("0.01") and sum(shares) == D("0.01")


def test_on_any_order_the_lines_add_up_to_the_rates_and_the_rates_to_the_total():
    rng = random.Random(12)
    for _ in range(2000):
        lines = [(rng.choice([D(21), D(10), D(4), D(0)]), D(rng.randint(1, 500_000)) / 100)
                 for _ in range(rng.randint(1, 8))]
        shares, totals = split_tax(lines)
        gross = sum(g for _, g in lines)
        assert sum(t.gross for t in totals) == gross
        assert sum(shares) == sum(t.tax for t in totals)
        for total in totals:
            assert total.base == base_of(total.gross, total.rate)
            assert sum(s for s, (r, _) in zip(shares, lines, strict=True) if r == total.rate) == total.tax
        for share, (rate, line_gross) in zip(shares, lines, strict=True):
            assert D(0) <= share <= line_gross and share == share.quantize(D("0.01"))
            exact = line_gross - line_gross / (1 + rate / 100)
            assert abs(share - exact) < D("0.01") * len(lines)  # never far from the line's own IVA
        stored = rate_totals([(r, g, s) for (r, g), s in zip(lines, shares, strict=True)])
        assert stored == totals


def test_rates_are_configured_per_class_and_every_class_is_needed():
    assert parse_tax_rates(None) == DEFAULT_RATES
    assert parse_tax_rates("general:21, reduced:10, super_reduced:5.5")["super_reduced"] == D("5.5")
    for bad in ("general:21", "general:21,reduced:10,super_reduced:104", "general:x,reduced:10,super_reduced:4",
                "general:21,reduced:10,luxury:30"):
        with pytest.raises(ValueError):
            parse_tax_rates(bad)


def test_a_product_tax_class_is_one_of_the_three():
    assert parse_tax_class(None) == "general" and parse_tax_class("super_reduced") == "super_reduced"
    with pytest.raises(InvalidInput):
        parse_tax_class("$gt")


def test_invoice_numbers_are_printed_with_their_series():
    import datetime as dt

    from shop.domain.orders import Invoice
    at = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    assert Invoice(2026, 17, at).printed_number == "FS-2026-000017"
    assert Invoice(2026, 3, at, series="F").printed_number == "F-2026-000003"
