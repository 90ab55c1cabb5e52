"""Addresses and shipping: a customer's address book, the admin's shipping methods, and what a
checkout ships with (checked when the order is placed: a method switched off since the page was
loaded, or one that does not ship to the address's country, is refused with a clear message)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shop.adapters.postgres import PostgresDatabase
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.shipping import EU_COUNTRIES, Address, ShippingChoice, ShippingMethod, parse_shipping_method_form


def _id(raw: object, message: str) -> int:
    text = str(raw or "").strip()
    if not re.fullmatch(r"\d{1,9}", text, re.ASCII):
        raise InvalidInput(message)
    return int(text)


def shipping_choice(db: PostgresDatabase, user_id: int, raw_address_id: object,
                    raw_method_id: object) -> ShippingChoice | None:
    """What this checkout ships with, or None when the shop ships nothing (no active method)."""
    if not db.shipping.any_active():
        return None
    if not db.shipping.addresses_of(user_id):
        raise InvalidInput(N_("Add a shipping address under Your account → Addresses before buying."))
    address = db.shipping.address_of(user_id, _id(raw_address_id, N_("Choose the address to ship to.")))
    if address is None:
        raise NotFound(N_("That address is not in your address book."))
    method = db.shipping.method(_id(raw_method_id, N_("Choose a shipping method.")))
    if method is None or not method.active:
        raise Conflict(N_("That shipping method is no longer offered; choose another one."))
    if not method.ships_to(address.country):
        raise Conflict(N_("%(method)s does not ship to %(country)s; choose another method or address."),
                       method=method.name, country=EU_COUNTRIES.get(address.country, address.country))
    return ShippingChoice(address, method)


def add_address(db: PostgresDatabase, user_id: int, address: Address, make_default: bool) -> int:
    return db.shipping.add_address(user_id, address, make_default)


_NOT_IN_BOOK = N_("There is no such address in your address book.")  # someone else's reads as missing


def make_default_address(db: PostgresDatabase, user_id: int, address_id: int) -> None:
    if not db.shipping.make_default(user_id, address_id):
        raise NotFound(_NOT_IN_BOOK)


def delete_address(db: PostgresDatabase, user_id: int, address_id: int) -> None:
    """Out of the address book; orders already placed keep the address they were sent to."""
    if not db.shipping.delete_address(user_id, address_id):
        raise NotFound(_NOT_IN_BOOK)


def create_shipping_method(db: PostgresDatabase, form: Mapping[str, str]) -> int:
    return db.shipping.create_method(**parse_shipping_method_form(form))


def set_shipping_method_active(db: PostgresDatabase, raw_method_id: object, active: bool) -> ShippingMethod:
    method_id = _id(raw_method_id, N_("That shipping method does not exist."))
    method = db.shipping.method(method_id) if db.shipping.set_method_active(method_id, active) else None
    if method is None:
        raise NotFound(N_("That shipping method does not exist."))
    return method
