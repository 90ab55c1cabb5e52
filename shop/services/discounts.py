"""Discount codes: creating them (admins), and what one takes off a cart before it is ordered.

Taking a use happens only in the checkout (shop.services.checkout, with the order); a preview here
checks the same rules without taking anything, so a code can still run out between the preview
and the order — then the checkout refuses it and nothing is ordered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import normalize_email
from shop.domain.discounts import NOT_USABLE, DiscountCode, normalize_code
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.orders import OrderLine


@dataclass(frozen=True)
class DiscountPreview:
    code: str
    line_discounts: list[Decimal]
    order_amount: Decimal | None = None  # a fixed code: what comes off the order as a whole (not per unit)
    discount: DiscountCode | None = None  # the code itself, for what the cart will cost with it

    @property
    def total(self) -> Decimal:
        return sum(self.line_discounts, Decimal("0.00"))


def preview_discount(db: PostgresDatabase, user_id: int, raw_code: str, lines: list[OrderLine]) -> DiscountPreview:
    """What the code would take off these lines for this customer now; refuses with the reason."""
    code = normalize_code(raw_code)
    if code is None:
        raise InvalidInput(N_("Type a discount code."))
    discount = db.discounts.get(code)
    if discount is None:
        raise Conflict(NOT_USABLE, code=code)
    amounts = [(line.gross, line.category) for line in lines]
    discount.check(dt.datetime.now(dt.UTC), amounts, customer_uses=db.discounts.customer_uses(code, user_id),
                   customer_id=user_id)
    return DiscountPreview(code, discount.line_discounts(amounts),
                           order_amount=discount.value if discount.kind == "fixed" else None, discount=discount)


def create_discount_code(db: PostgresDatabase, discount: DiscountCode, customer_email: str | None = None) -> None:
    """A new code; with `customer_email`, for that customer only (who must have an account)."""
    if customer_email is not None:
        customer_email = normalize_email(customer_email)
        users, _ = db.users.find(email=customer_email, limit=1)
        if not users:
            raise InvalidInput(N_("No customer has the e-mail %(email)s."), email=customer_email[:254])
        discount = replace(discount, user_id=users[0].user_id)
    db.discounts.create(discount)


def set_discount_code_active(db: PostgresDatabase, raw_code: str, active: bool) -> str:
    code = normalize_code(raw_code)
    if code is None or not db.discounts.set_active(code, active):
        raise NotFound(N_("That discount code does not exist."))
    return code
