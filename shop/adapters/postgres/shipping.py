"""Address books and shipping methods in PostgreSQL (database/postgres/0014_addresses_and_shipping.sql)."""

from __future__ import annotations

import psycopg2.errors

from shop.adapters.postgres.errors import translates_errors
from shop.domain.errors import N_, Conflict
from shop.domain.shipping import Address, ShippingMethod

_ADDRESS = "address_id, full_name, street, postal_code, city, province, country, phone, is_default"
_METHOD = "method_id, name, price, free_above, countries, active"


def _method(row: dict) -> ShippingMethod:
    return ShippingMethod(row["method_id"], row["name"], row["price"], row["free_above"],
                          tuple(c.strip() for c in row["countries"]), row["active"])


def _address(row: dict) -> tuple[int, Address, bool]:
    return (row["address_id"], Address(row["full_name"], row["street"], row["postal_code"], row["city"],
                                       row["province"], row["country"].strip(), row["phone"]), row["is_default"])


@translates_errors
class Shipping:
    def __init__(self, db):
        self._db = db

    # --- a customer's addresses -----------------------------------------------------------------

    def addresses_of(self, user_id: int) -> list[tuple[int, Address, bool]]:
        """(id, address, is default) for each of the user's addresses, the default first."""
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_ADDRESS} FROM addresses WHERE user_id = %s "  # noqa: S608  # constant
                        "ORDER BY is_default DESC, address_id", (user_id,))
            return [_address(row) for row in cur.fetchall()]

    def address_of(self, user_id: int, address_id: int) -> Address | None:
        """The user's own address with that id (someone else's is not found)."""
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_ADDRESS} FROM addresses WHERE user_id = %s AND address_id = %s",  # noqa: S608
                        (user_id, address_id))
            row = cur.fetchone()
            return _address(row)[1] if row else None

    def add_address(self, user_id: int, address: Address, make_default: bool) -> int:
        """Save an address; the first one, or one asked to be, becomes the default (the user's row
        is locked so two saves at once cannot both become the default)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
            cur.execute("SELECT count(*) AS n FROM addresses WHERE user_id = %s", (user_id,))
            if cur.fetchone()["n"] >= 20:
                raise Conflict(N_("You can keep at most 20 addresses; delete one first."))
            cur.execute("SELECT NOT EXISTS (SELECT FROM addresses WHERE user_id = %s AND is_default) AS first",
                        (user_id,))
            default = make_default or cur.fetchone()["first"]
            if default:
                cur.execute("UPDATE addresses SET is_default = FALSE WHERE user_id = %s AND is_default", (user_id,))
            cur.execute("""INSERT INTO addresses (user_id, full_name, street, postal_code, city, province, country,
                                                  phone, is_default)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING address_id""",
                        (user_id, address.full_name, address.street, address.postal_code, address.city,
                         address.province, address.country, address.phone, default))
            return cur.fetchone()["address_id"]

    def make_default(self, user_id: int, address_id: int) -> bool:
        with self._db.transaction() as cur:
            cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
            cur.execute("SELECT 1 FROM addresses WHERE user_id = %s AND address_id = %s", (user_id, address_id))
            if cur.fetchone() is None:
                return False
            cur.execute("UPDATE addresses SET is_default = FALSE WHERE user_id = %s AND is_default", (user_id,))
            cur.execute("UPDATE addresses SET is_default = TRUE WHERE address_id = %s", (address_id,))
            return True

    def delete_address(self, user_id: int, address_id: int) -> bool:
        """Forget an address (placed orders keep their own copy); the oldest left becomes the default."""
        with self._db.transaction() as cur:
            cur.execute("SELECT FROM users WHERE user_id = %s FOR NO KEY UPDATE", (user_id,))
            cur.execute("DELETE FROM addresses WHERE user_id = %s AND address_id = %s RETURNING is_default",
                        (user_id, address_id))
            row = cur.fetchone()
            if row is None:
                return False
            if row["is_default"]:
                cur.execute("""UPDATE addresses SET is_default = TRUE WHERE address_id =
                               (SELECT min(address_id) FROM addresses WHERE user_id = %s)""", (user_id,))
            return True

    # --- shipping methods ------------------------------------------------------------------------

    def methods(self, *, active_only: bool = False) -> list[ShippingMethod]:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_METHOD} FROM shipping_methods "  # noqa: S608  # constant fragments
                        f"{'WHERE active ' if active_only else ''}ORDER BY price, name")
            return [_method(row) for row in cur.fetchall()]

    def method(self, method_id: int) -> ShippingMethod | None:
        with self._db.transaction() as cur:
            cur.execute(f"SELECT {_METHOD} FROM shipping_methods WHERE method_id = %s", (method_id,))  # noqa: S608
            row = cur.fetchone()
            return _method(row) if row else None

    def any_active(self) -> bool:
        with self._db.transaction() as cur:
            cur.execute("SELECT EXISTS (SELECT FROM shipping_methods WHERE active) AS any")
            return cur.fetchone()["any"]

    def create_method(self, name: str, price, free_above, countries: tuple[str, ...]) -> int:
        try:
            with self._db.transaction() as cur:
                cur.execute("""INSERT INTO shipping_methods (name, price, free_above, countries)
                               VALUES (%s, %s, %s, %s) RETURNING method_id""",
                            (name, price, free_above, list(countries)))
                return cur.fetchone()["method_id"]
        except psycopg2.errors.UniqueViolation:
            raise Conflict(N_("A shipping method with that name already exists.")) from None

    def set_method_active(self, method_id: int, active: bool) -> bool:
        with self._db.transaction() as cur:
            cur.execute("UPDATE shipping_methods SET active = %s WHERE method_id = %s", (active, method_id))
            return cur.rowcount == 1
