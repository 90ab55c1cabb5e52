"""Discount codes in PostgreSQL: the codes, and the uses orders hold (database/postgres/0009_discount_codes.sql).

A use is taken only by `take_discount_use`, inside the transaction that creates the order; it is
given back only as an effect of the order's failure or cancellation
(shop.adapters.postgres.order_effects). Nothing else changes
`discount_codes.uses`.
"""

from __future__ import annotations

import psycopg2.errors

from shop.adapters.postgres.errors import translates_errors
from shop.domain.discounts import NOT_USABLE, DiscountCode
from shop.domain.errors import N_, Conflict

_COLUMNS = ("code, kind, value, min_order, starts_at, ends_at, max_uses, max_uses_per_customer, categories, "
            "active, uses, user_id")


def _code(row: dict) -> DiscountCode:
    return DiscountCode(**{**row, "categories": tuple(row["categories"] or ())})


def take_discount_use(cur, code: str, order_id: int, user_id: int) -> DiscountCode:
    """Within the order's creating transaction: one use of `code` for this order, or Conflict (and
    the whole transaction, order included, rolls back). The conditional increment locks the code's
    row, so concurrent checkouts count one after the other: `uses` never passes `max_uses`, and the
    per-customer count is read under the same lock."""
    cur.execute(
        f"""UPDATE discount_codes SET uses = uses + 1
            WHERE code = %s AND active AND (starts_at IS NULL OR starts_at <= now())
              AND (ends_at IS NULL OR ends_at > now()) AND (max_uses IS NULL OR uses < max_uses)
              AND (user_id IS NULL OR user_id = %s)
            RETURNING {_COLUMNS}""", (code, user_id))  # noqa: S608  # constant column list
    row = cur.fetchone()
    if row is None:
        cur.execute(f"SELECT {_COLUMNS} FROM discount_codes WHERE code = %s", (code,))  # noqa: S608
        current = cur.fetchone()
        if current is None:
            raise Conflict(NOT_USABLE, code=code)
        cur.execute("SELECT now() AS now")
        _code(current).check_available(cur.fetchone()["now"], customer_id=user_id)  # raises with the reason
        raise Conflict(NOT_USABLE, code=code)
    taken = _code(row)
    if taken.max_uses_per_customer is not None:
        cur.execute("SELECT count(*) AS n FROM discount_uses WHERE code = %s AND user_id = %s AND released_at IS NULL",
                    (code, user_id))
        if cur.fetchone()["n"] >= taken.max_uses_per_customer:
            raise Conflict(N_("You have already used the code %(code)s as many times as it allows."), code=code)
    cur.execute("INSERT INTO discount_uses (order_id, code, user_id) VALUES (%s, %s, %s)", (order_id, code, user_id))
    cur.execute("UPDATE orders SET discount_code = %s WHERE order_id = %s", (code, order_id))
    return taken


@translates_errors
class Discounts:
    def __init__(self, db):
        self._db = db

    def create(self, discount: DiscountCode) -> None:
        try:
            with self._db.transaction() as cur:
                cur.execute(
                    """INSERT INTO discount_codes (code, kind, value, min_order, starts_at, ends_at, max_uses,
                                                   max_uses_per_customer, categories, user_id)
                       VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                    (discount.code, discount.kind, discount.value, discount.min_order, discount.starts_at,
                     discount.ends_at, discount.max_uses, discount.max_uses_per_customer, list(discount.categories),
                     discount.user_id))
        except psycopg2.errors.UniqueViolation:
            raise Conflict(N_("The code %(code)s already exists."), code=discount.code) from None

    def get(self, code: str) -> DiscountCode | None:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM discount_codes WHERE code = %s", (code,))  # noqa: S608
            row = cur.fetchone()
            return _code(row) if row else None

    def all(self) -> list[DiscountCode]:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM discount_codes ORDER BY created_at DESC, code")  # noqa: S608
            return [_code(row) for row in cur.fetchall()]

    def set_active(self, code: str, active: bool) -> bool:
        with self._db.transaction() as cur:
            cur.execute("UPDATE discount_codes SET active = %s WHERE code = %s", (active, code))
            return cur.rowcount == 1

    def customer_uses(self, code: str, user_id: int) -> int:
        with self._db.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM discount_uses WHERE code = %s AND user_id = %s "
                        "AND released_at IS NULL", (code, user_id))
            return cur.fetchone()["n"]

    def held_uses(self, code: str) -> int:
        """Uses held by orders right now (the reference `uses` must always equal)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT count(*) AS n FROM discount_uses WHERE code = %s AND released_at IS NULL", (code,))
            return cur.fetchone()["n"]
