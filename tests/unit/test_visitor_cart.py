"""A visitor's cart, as their session keeps it: lines capped like an account's, nothing trusted
from the session that is not a line."""

import pytest

from shop.domain.errors import InvalidInput
from shop.domain.orders import MAX_LINES, MAX_QUANTITY_PER_LINE
from shop.domain.visitor_cart import SESSION_KEY, VisitorCart

MUG, SHIRT = "0123456789abcdef01234567", "89abcdef0123456789abcdef"


def test_units_of_one_item_add_up_to_the_line_maximum():
    cart = VisitorCart()
    cart.add(MUG, None, 2)
    cart.add(MUG, None, 3)
    cart.add(SHIRT, "v2", 99)
    cart.add(SHIRT, "v2", 99)
    assert cart.items() == [(MUG, None, 5), (SHIRT, "v2", MAX_QUANTITY_PER_LINE)]


def test_a_quantity_set_to_zero_takes_the_line_out_and_an_unknown_line_is_not_added():
    cart = VisitorCart({MUG: 2})
    cart.set(SHIRT, None, 4)
    cart.set(MUG, None, 7)
    assert cart.items() == [(MUG, None, 7)]
    cart.set(MUG, None, 0)
    assert not cart


def test_a_cart_holds_at_most_the_lines_an_order_can():
    cart = VisitorCart({f"{n:024x}": 1 for n in range(MAX_LINES)})
    with pytest.raises(InvalidInput):
        cart.add(MUG, None, 1)
    cart.add(f"{0:024x}", None, 1)  # more of a line already there is fine
    assert cart.lines[f"{0:024x}"] == 2


def test_the_session_round_trip_keeps_the_lines_and_drops_what_is_not_a_line():
    cart = VisitorCart()
    cart.add(MUG, None, 2)
    cart.add(SHIRT, "v1", 1)
    assert VisitorCart.from_session({SESSION_KEY: cart.as_session()}) == cart
    odd = {SESSION_KEY: {MUG: 0, SHIRT: True, "nonsense": 3, f"{MUG[:-1]}8": 101, f"{MUG[:-1]}9": 4}}
    assert VisitorCart.from_session(odd).items() == [(f"{MUG[:-1]}9", None, 4)]
    assert VisitorCart.from_session({SESSION_KEY: ["a list"]}) == VisitorCart()
    assert VisitorCart.from_session({}) == VisitorCart()
