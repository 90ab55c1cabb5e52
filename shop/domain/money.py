"""Money is Decimal with two places, end to end; floats never touch a price."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_PRICE = Decimal("9999999999.99")  # fits NUMERIC(12,2)


def to_money(value) -> Decimal:
    """A two-place Decimal from a Decimal, int or numeric string; floats are refused."""
    if isinstance(value, float):
        raise TypeError("money must not be a float; pass a Decimal or a string")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not an amount of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
