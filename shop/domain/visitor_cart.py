"""A visitor's cart: what someone who has not logged in chose, kept in their (signed) session
until they log in, when it joins their account's cart. Plain data, no database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from shop.domain.errors import N_, InvalidInput
from shop.domain.orders import MAX_LINES, MAX_QUANTITY_PER_LINE
from shop.domain.variants import item_ref, parse_item_ref

SESSION_KEY = "visitor_cart"


@dataclass
class VisitorCart:
    """Item reference ("product id" or "product id:variant key") → units, in the order first added."""

    lines: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_session(cls, session: Mapping[str, object]) -> VisitorCart:
        """The cart a session holds. The session is signed, but whatever in it is not a line (an
        older shape, a value out of range) is left out rather than trusted."""
        raw = session.get(SESSION_KEY)
        lines: dict[str, int] = {}
        if isinstance(raw, dict):
            for ref, units in raw.items():
                try:
                    product_id, variant = parse_item_ref(ref)
                except InvalidInput:
                    continue
                if isinstance(units, int) and not isinstance(units, bool) and 0 < units <= MAX_QUANTITY_PER_LINE:
                    lines[item_ref(product_id, variant)] = units
        return cls(dict(list(lines.items())[:MAX_LINES]))

    def as_session(self) -> dict[str, int]:
        return dict(self.lines)

    def add(self, product_id: str, variant: str | None, units: int) -> None:
        """More units of an item; a line never goes over MAX_QUANTITY_PER_LINE, nor a cart over
        MAX_LINES different items."""
        ref = item_ref(product_id, variant)
        if ref not in self.lines and len(self.lines) >= MAX_LINES:
            raise InvalidInput(N_("A cart can hold at most %(max)d different products."), max=MAX_LINES)
        self.lines[ref] = min(self.lines.get(ref, 0) + units, MAX_QUANTITY_PER_LINE)

    def set(self, product_id: str, variant: str | None, units: int) -> None:
        """Exactly `units` of an item already in the cart (0: out of the cart)."""
        ref = item_ref(product_id, variant)
        if units <= 0:
            self.lines.pop(ref, None)
        elif ref in self.lines:
            self.lines[ref] = min(units, MAX_QUANTITY_PER_LINE)

    def items(self) -> list[tuple[str, str | None, int]]:
        """(product id, variant key or None, units) per line."""
        return [(*parse_item_ref(ref), units) for ref, units in self.lines.items()]

    def __bool__(self) -> bool:
        return bool(self.lines)
