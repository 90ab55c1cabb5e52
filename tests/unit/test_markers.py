"""Stock marker keys: built and read in one place (shop/domain/markers.py)."""

import pytest

from shop.domain import markers


def test_an_order_and_a_refund_key_read_back_as_what_they_name_and_nothing_else():
    assert markers.order_key(42) == "o42" and markers.refund_key(7) == "r7"
    assert markers.order_of("o42") == 42 and markers.refund_of("o42") is None
    assert markers.refund_of("r7") == 7 and markers.order_of("r7") is None


@pytest.mark.parametrize("key", ["", "o", "r", "x42", "o4a", "o-1", "o٤٢", "42"])
def test_a_key_that_is_not_ours_names_nothing(key):
    assert markers.order_of(key) is None and markers.refund_of(key) is None


def test_paths_exist_only_for_the_two_marker_fields():
    assert markers.path(markers.HOLDS, "o1") == "holds.o1"
    assert markers.path(markers.RETURNS, "r2") == "returns.r2"
    with pytest.raises(ValueError):
        markers.path("$where", "o1")


def test_a_variant_marker_names_its_order_or_refund_and_its_variant():
    assert markers.order_key(42, "v3") == "o42v3" and markers.refund_key(7, "v12") == "r7v12"
    assert markers.order_of("o42v3") == 42 and markers.variant_of("o42v3") == "v3"
    assert markers.refund_of("r7v12") == 7 and markers.variant_of("r7") is None
    for key in ("o42v", "o42v0", "o42vv1", "o42v1.x", "o42v12345"):
        assert markers.order_of(key) is None and markers.variant_of(key) is None


@pytest.mark.parametrize("variant", ["", "V1", "v0", "v1.stock", "$inc", "v12345"])
def test_a_marker_is_never_built_from_something_that_is_not_a_variant_key(variant):
    with pytest.raises(ValueError):
        markers.order_key(1, variant)
