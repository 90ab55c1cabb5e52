"""Stock markers: how a product document remembers, per order or refund, units that are held or
were given back — so each stock change is made once, whoever repeats it (docs/checkout.md).

`holds.o<order id>`: units an order took at checkout, until its decision is settled or released.
`returns.o<order id>`: a cancelled order's units are back. `returns.r<refund id>`: a refund's
returned goods are back. Every key is built and read here; the ids are integers from PostgreSQL,
never input.
"""

from __future__ import annotations

HOLDS = "holds"
RETURNS = "returns"
FIELDS = (HOLDS, RETURNS)


def order_key(order_id: int) -> str:
    return f"o{int(order_id)}"


def refund_key(refund_id: int) -> str:
    return f"r{int(refund_id)}"


def order_of(key: str) -> int | None:
    """The order a marker key names, or None (a refund's, or not one of ours)."""
    return _id(key, "o")


def refund_of(key: str) -> int | None:
    """The refund a marker key names, or None."""
    return _id(key, "r")


def path(field: str, key: str) -> str:
    """The dotted field path of one marker (`holds.o42`)."""
    if field not in FIELDS:
        raise ValueError(f"unknown marker field {field!r}")
    return f"{field}.{key}"


def _id(key: str, prefix: str) -> int | None:
    rest = key[1:]
    return int(rest) if key.startswith(prefix) and rest.isdigit() and rest.isascii() else None
