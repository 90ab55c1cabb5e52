"""Shopping carts in PostgreSQL (`db.carts`): a customer's lines, kept across sessions and devices."""

from __future__ import annotations

from shop.adapters.postgres.errors import translates_errors


@translates_errors
class Carts:
    def __init__(self, db):
        self._db = db

    def lines(self, user_id: int) -> list[tuple[str, int]]:
        with self._db.transaction() as cur:
            cur.execute("SELECT product_id, quantity FROM cart_items WHERE user_id = %s ORDER BY added_at, product_id",
                        (user_id,))
            return [(r["product_id"], r["quantity"]) for r in cur.fetchall()]


    def add(self, user_id: int, product_id: str, quantity: int, max_quantity: int) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                """INSERT INTO cart_items (user_id, product_id, quantity) VALUES (%s, %s, %s)
                   ON CONFLICT (user_id, product_id)
                   DO UPDATE SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, %s)""",
                (user_id, product_id, quantity, max_quantity),
            )


    def set_quantity(self, user_id: int, product_id: str, quantity: int) -> None:
        with self._db.transaction() as cur:
            if quantity <= 0:
                cur.execute("DELETE FROM cart_items WHERE user_id = %s AND product_id = %s", (user_id, product_id))
            else:
                cur.execute("UPDATE cart_items SET quantity = %s WHERE user_id = %s AND product_id = %s",
                            (quantity, user_id, product_id))

