"""Addresses and shipping: what a valid address is (Spain and the other EU countries), and what a
shipping method costs.

Spanish addresses are checked the Spanish way: a postal code of five digits whose first two are a
province (01–52), a phone of nine digits starting 6, 7, 8 or 9 (optionally +34). Other EU countries
are accepted with a postal code of letters, digits, spaces or dashes and an international phone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from shop.domain.errors import N_, InvalidInput
from shop.domain.json import JsonObject

EU_COUNTRIES = {
    "ES": "España", "AT": "Austria", "BE": "Bélgica", "BG": "Bulgaria", "CY": "Chipre", "CZ": "Chequia",
    "DE": "Alemania", "DK": "Dinamarca", "EE": "Estonia", "FI": "Finlandia", "FR": "Francia", "GR": "Grecia",
    "HR": "Croacia", "HU": "Hungría", "IE": "Irlanda", "IT": "Italia", "LT": "Lituania", "LU": "Luxemburgo",
    "LV": "Letonia", "MT": "Malta", "NL": "Países Bajos", "PL": "Polonia", "PT": "Portugal", "RO": "Rumanía",
    "SE": "Suecia", "SI": "Eslovenia", "SK": "Eslovaquia",
}
_ES_POSTAL = re.compile(r"^(0[1-9]|[1-4]\d|5[0-2])\d{3}$", re.ASCII)
_ES_PHONE = re.compile(r"^(\+34|0034)?[6-9]\d{8}$", re.ASCII)
_EU_POSTAL = re.compile(r"^[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]$", re.ASCII)
_EU_PHONE = re.compile(r"^\+?\d{7,15}$", re.ASCII)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Address:
    full_name: str
    street: str
    postal_code: str
    city: str
    province: str
    country: str
    phone: str

    def snapshot(self) -> JsonObject:
        """What an order keeps of it (later edits of the address book never change a placed order)."""
        return asdict(self)


def _text(form: Mapping[str, str], name: str, limit: int, message: str, *, required: bool = True) -> str:
    value = " ".join((form.get(name) or "").split())
    if (required and not value) or len(value) > limit or not value.isprintable():
        raise InvalidInput(message)
    return value


def parse_address(form: Mapping[str, str]) -> Address:
    """An address from a form, validated; a clear message for the first thing that is wrong."""
    country = (form.get("country") or "ES").strip().upper()
    if country not in EU_COUNTRIES:
        raise InvalidInput(N_("We ship to Spain and the other countries of the European Union only."))
    full_name = _text(form, "full_name", 120, N_("Write who receives the parcel (at most 120 characters)."))
    street = _text(form, "street", 200, N_("Write the street and number (at most 200 characters)."))
    city = _text(form, "city", 80, N_("Write the town or city (at most 80 characters)."))
    province = _text(form, "province", 80, N_("Write the province (at most 80 characters)."),
                     required=country == "ES")
    postal = "".join((form.get("postal_code") or "").split()).upper() if country == "ES" else \
        " ".join((form.get("postal_code") or "").split()).upper()
    phone = re.sub(r"[\s.()-]", "", form.get("phone") or "")
    if country == "ES":
        if not _ES_POSTAL.match(postal):
            raise InvalidInput(N_("A Spanish postal code has five digits, such as 28013."))
        if not _ES_PHONE.match(phone):
            raise InvalidInput(N_("A Spanish phone number has nine digits, such as 612 345 678."))
    else:
        if not _EU_POSTAL.match(postal):
            raise InvalidInput(N_("Write the postal code as it is written in that country."))
        if not _EU_PHONE.match(phone):
            raise InvalidInput(N_("Write the phone number with its country code, such as +33 6 12 34 56 78."))
    return Address(full_name, street, postal, city, province, country, phone)


@dataclass(frozen=True)
class ShippingMethod:
    method_id: int
    name: str
    price: Decimal  # IVA included
    free_above: Decimal | None
    countries: tuple[str, ...]
    active: bool = True

    def ships_to(self, country: str) -> bool:
        return country in self.countries

    def price_for(self, goods: Decimal) -> Decimal:
        """The shipping charged on goods worth `goods` (after discounts, IVA included)."""
        return Decimal("0.00") if self.free_above is not None and goods >= self.free_above else self.price


@dataclass(frozen=True)
class ShippingSnapshot:
    """How a placed order travels, fixed at checkout: the address as it was then (a later edit of
    the address book changes no order), the method's name, what it cost (IVA included), that IVA
    and its rate."""

    address: JsonObject
    method: str
    amount: Decimal
    tax: Decimal
    rate: Decimal | None  # None when it was taxed at several rates (see parts)
    parts: tuple[tuple[Decimal, Decimal, Decimal], ...] = ()  # (rate, gross, IVA) when it was apportioned

    @property
    def taxed_parts(self) -> tuple[tuple[Decimal, Decimal, Decimal], ...]:
        """The shipping as (rate, gross, IVA), one per rate it was taxed at (none when it was free, or
        sold before IVA was recorded)."""
        if self.parts:
            return self.parts
        return ((self.rate, self.amount, self.tax),) if self.amount and self.rate is not None else ()


@dataclass(frozen=True)
class ShippingChoice:
    """What checkout was asked to ship with: the address and the method, as they were then."""

    address: Address
    method: ShippingMethod


def parse_shipping_method_form(form: Mapping[str, str]) -> JsonObject:
    name = _text(form, "name", 60, N_("Name the shipping method (at most 60 characters)."))
    price = _money(form.get("price"), N_("The price must be an amount such as 4.95."))
    raw_free = (form.get("free_above") or "").strip()
    free_above = _money(raw_free, N_("'Free above' must be an amount such as 50.")) if raw_free else None
    if free_above is not None and free_above <= 0:
        raise InvalidInput(N_("'Free above' must be an amount such as 50."))
    countries = tuple(sorted({c.strip().upper() for c in (form.get("countries") or "ES").split(",") if c.strip()}))
    if not countries or any(c not in EU_COUNTRIES for c in countries):
        raise InvalidInput(N_("List countries as two-letter EU codes, such as ES, PT, FR."))
    return {"name": name, "price": price, "free_above": free_above, "countries": countries}


def _money(raw: object, message: str) -> Decimal:
    try:
        amount = Decimal(str(raw or "").strip().replace(",", ".", 1))
    except InvalidOperation:
        raise InvalidInput(message) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("100000") or amount != amount.quantize(CENT):
        raise InvalidInput(message)
    return amount
