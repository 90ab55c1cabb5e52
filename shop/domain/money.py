"""Money is Decimal with two places, end to end; floats never touch a price."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# The dearest unit price a product can have. With at most 100 units a line and 50 lines an order
# (shop.domain.orders), the largest order is 499,999,995.00, which NUMERIC(12,2) holds: an order's
# total can never overflow its column and hold stock until recovery.
MAX_PRICE = Decimal("999999.99")
# The cheapest: an order always has something to pay (a payment of 0,00 € cannot be recorded).
MIN_PRICE = CENT
NUMERIC_12_2_MAX = Decimal("9999999999.99")


def to_money(value: object) -> Decimal:
    """A two-place Decimal from a Decimal, int or numeric string; floats are refused."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal or a string")
    if not isinstance(value, (Decimal, int, str)):
        raise ValueError(f"not an amount of money: {value!r}")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"not an amount of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
