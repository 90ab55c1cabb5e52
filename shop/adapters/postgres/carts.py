"""Shopping carts in PostgreSQL (`db.carts`): a customer's lines, kept across sessions and devices.

A line is a product, or one of its variants ('' in `variant_key`: a product without options).
"""

from __future__ import annotations

from shop.adapters.postgres.errors import translates_errors
from shop.domain.variants import item_ref


@translates_errors
class Carts:
    def __init__(self, db):
        self._db = db

    def lines(self, user_id: int) -> list[tuple[str, int]]:
        """(item ref, quantity) per line, in the order they were added: what checkout takes. An item
        ref is the product id, or "product id:variant key" (shop.domain.variants.item_ref)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT product_id, variant_key, quantity FROM cart_items WHERE user_id = %s
                           ORDER BY added_at, product_id, variant_key""", (user_id,))
            return [(item_ref(r["product_id"], r["variant_key"] or None), r["quantity"]) for r in cur.fetchall()]


    def add(self, user_id: int, product_id: str, quantity: int, max_quantity: int, variant: str | None = None) -> None:
        with self._db.transaction() as cur:
            cur.execute(
                """INSERT INTO cart_items (user_id, product_id, variant_key, quantity) VALUES (%s, %s, %s, %s)
                   ON CONFLICT (user_id, product_id, variant_key)
                   DO UPDATE SET quantity = LEAST(cart_items.quantity + EXCLUDED.quantity, %s)""",
                (user_id, product_id, variant or "", quantity, max_quantity),
            )


    def put(self, user_id: int, product_id: str, quantity: int, variant: str | None = None) -> None:
        """The line holds exactly `quantity` units from now on (added if it was not in the cart)."""
        with self._db.transaction() as cur:
            cur.execute("""INSERT INTO cart_items (user_id, product_id, variant_key, quantity) VALUES (%s, %s, %s, %s)
                           ON CONFLICT (user_id, product_id, variant_key) DO UPDATE SET quantity = EXCLUDED.quantity""",
                        (user_id, product_id, variant or "", quantity))

    def set_quantity(self, user_id: int, product_id: str, quantity: int, variant: str | None = None) -> None:
        with self._db.transaction() as cur:
            if quantity <= 0:
                cur.execute("DELETE FROM cart_items WHERE user_id = %s AND product_id = %s AND variant_key = %s",
                            (user_id, product_id, variant or ""))
            else:
                cur.execute("""UPDATE cart_items SET quantity = %s
                               WHERE user_id = %s AND product_id = %s AND variant_key = %s""",
                            (quantity, user_id, product_id, variant or ""))
