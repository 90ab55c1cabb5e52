"""Stock markers: how a product document remembers, per order or refund, units that are held or
were given back — so each stock change is made once, whoever repeats it (docs/checkout.md).

`holds.o<order id>`: units an order took at checkout, until its decision is settled or released.
`returns.o<order id>`: a cancelled order's units are back. `returns.r<refund id>`: a refund's
returned goods are back. For a variant, its key follows (`holds.o42v2`): one order can hold two
sizes of one product, each with its own marker. Every key is built and read here; the ids are
integers from PostgreSQL and the variant keys the shop's own ("v2"), never input.
"""

from __future__ import annotations

import re

_KEY = re.compile(r"^([or])([0-9]{1,18})(v[1-9][0-9]{0,3})?$", re.ASCII)

HOLDS = "holds"
RETURNS = "returns"
FIELDS = (HOLDS, RETURNS)


def order_key(order_id: int, variant: str | None = None) -> str:
    return f"o{int(order_id)}{_variant_suffix(variant)}"


def refund_key(refund_id: int, variant: str | None = None) -> str:
    return f"r{int(refund_id)}{_variant_suffix(variant)}"


def variant_of(key: str) -> str | None:
    """The variant a marker key names ("v2"), or None (a product without options)."""
    match = _KEY.match(key)
    return match.group(3) if match else None


def _variant_suffix(variant: str | None) -> str:
    if variant is None:
        return ""
    if not re.fullmatch(r"v[1-9][0-9]{0,3}", variant, re.ASCII):
        raise ValueError(f"not a variant key: {variant!r}")
    return variant


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
    match = _KEY.match(key)
    return int(match.group(2)) if match and match.group(1) == prefix else None
