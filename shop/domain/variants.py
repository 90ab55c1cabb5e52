"""Variants: what a product is sold as when it comes in options (a T-shirt in sizes S, M and L).

A product declares its options (Talla: S, M, L; Color: rojo, azul) and has one variant per
combination it sells. Each variant has its own SKU, its own stock and, if it differs, its own price.
A product without options is one default variant: its SKU and its stock are the product's own.

In the product document a variant is found by its *key* ("v1", "v2", …): a short name the shop
gives it, never reused, which is the only part of a variant that appears in a field path
(`variants.v2.stock`) or a stock marker (`holds.o42v2`). The option names and values that staff
type are stored as values, never as keys, so they can never become a MongoDB operator or path.
The product's own `stock` is always the sum of its variants' stock: every change moves both in the
same atomic update (shop/adapters/mongo/stock.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from shop.domain.errors import N_, InvalidInput
from shop.domain.money import MAX_PRICE, MIN_PRICE, to_money

MAX_OPTIONS = 3
MAX_OPTION_VALUES = 30
MAX_VARIANTS = 100
MAX_OPTION_NAME = 40
MAX_OPTION_VALUE = 40
MAX_SKU_LENGTH = 64
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", re.ASCII)
_VARIANT_KEY = re.compile(r"^v[1-9][0-9]{0,3}$", re.ASCII)
_PRICE = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,2})?$", re.ASCII)
_PRICE_DIGITS = re.compile(r"^[0-9]{1,6}\.[0-9]+$", re.ASCII)
_ITEM_REF = re.compile(r"^([0-9a-f]{24})(?::(v[1-9][0-9]{0,3}))?$", re.ASCII)


@dataclass(frozen=True)
class ProductOption:
    """One way a product varies, and its values in the order shoppers see them."""
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    key: str  # "v1": its field path and stock markers use this, never what staff typed
    sku: str
    values: tuple[str, ...]  # one per option of its product, in the options' order
    stock: int
    price: Decimal | None = None  # None: the product's price

    def label(self, options: tuple[ProductOption, ...]) -> str:
        """"Talla: M · Color: rojo", as orders and invoices keep it."""
        return " · ".join(f"{option.name}: {value}" for option, value in zip(options, self.values, strict=False))

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


def parse_sku(raw: object) -> str:
    """An SKU: letters, digits and . _ / - (the characters every spreadsheet and label printer keeps),
    starting with a letter or digit, at most 64 characters. Upper and lower case are the same SKU."""
    text = raw.strip() if isinstance(raw, str) else ""
    if not _SKU.match(text):
        raise InvalidInput(N_("An SKU has 1 to %(max)d letters, digits, dots, dashes, slashes or underscores, "
                              "starting with a letter or a digit."), max=MAX_SKU_LENGTH)
    return text.upper()


def parse_variant_key(raw: object) -> str:
    if not isinstance(raw, str) or not _VARIANT_KEY.match(raw):
        raise InvalidInput(N_("That is not a valid product reference."))
    return raw


def parse_item_ref(raw: object) -> tuple[str, str | None]:
    """What a cart line names: a product id ("5f…") or a product id and a variant key ("5f…:v2")."""
    match = _ITEM_REF.match(raw.strip().lower()) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput(N_("That is not a valid product reference."))
    return match.group(1), match.group(2)


def item_ref(product_id: str, variant: str | None) -> str:
    """The inverse of parse_item_ref: how a cart, a form and the API name one thing to buy."""
    return f"{product_id}:{variant}" if variant else product_id


def _text(raw: object, limit: int, message: str) -> str:
    text = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not text or len(text) > limit or not text.isprintable():
        raise InvalidInput(message, max=limit)
    return text


def parse_options(rows: list[tuple[object, object]]) -> tuple[ProductOption, ...]:
    """Options from (name, values separated by commas) rows; rows without a name are left out."""
    options: list[ProductOption] = []
    for raw_name, raw_values in rows:
        if not (isinstance(raw_name, str) and raw_name.strip()):
            continue
        name = _text(raw_name, MAX_OPTION_NAME, N_("An option's name has at most %(max)d characters."))
        parts = raw_values.split(",") if isinstance(raw_values, str) else []
        values = tuple(_text(part, MAX_OPTION_VALUE, N_("An option value has at most %(max)d characters."))
                       for part in parts if part.strip())
        if not values:
            raise InvalidInput(N_("Option %(name)s needs at least one value, such as S, M, L."), name=name)
        if len(values) > MAX_OPTION_VALUES:
            raise InvalidInput(N_("An option can have at most %(max)d values."), max=MAX_OPTION_VALUES)
        if len({value.casefold() for value in values}) != len(values):
            raise InvalidInput(N_("Option %(name)s lists a value twice."), name=name)
        options.append(ProductOption(name, values))
    if len({option.name.casefold() for option in options}) != len(options):
        raise InvalidInput(N_("Two options have the same name."))
    if len(options) > MAX_OPTIONS:
        raise InvalidInput(N_("A product can have at most %(max)d options."), max=MAX_OPTIONS)
    return tuple(options)


def parse_variant_price(raw: object) -> Decimal | None:
    """A variant's own price, or None (empty: the product's price). "19,90" is accepted."""
    text = raw.strip().replace(",", ".", 1) if isinstance(raw, str) else ""
    if not text:
        return None
    if not _PRICE.match(text):
        if _PRICE_DIGITS.match(text):
            raise InvalidInput(N_("A price has at most two decimals."))
        raise InvalidInput(N_("The price must be an amount such as 19.99."))
    amount = to_money(text)
    if not MIN_PRICE <= amount <= MAX_PRICE:
        raise InvalidInput(N_("The price must be between %(min)s and %(max)s."), min=str(MIN_PRICE),
                           max=str(MAX_PRICE))
    return amount


@dataclass(frozen=True)
class VariantDraft:
    """A variant as staff wrote it (a grid row): its key when it exists already, else None."""
    key: str | None
    sku: str
    values: tuple[str, ...]
    price: Decimal | None
    stock: int = 0  # a new variant's first stock; an existing one's stock moves only by adjustments


def check_variants(options: tuple[ProductOption, ...], drafts: list[VariantDraft],
                   existing: tuple[Variant, ...] = (), last_number: int = 0) -> list[Variant]:
    """The variants a product will have: each combination of option values once, every SKU once,
    every value one of its option's, existing keys kept (and their stock), new keys after the
    highest ever given (`last_number`, or an existing one: order lines keep a removed variant's key,
    so it is never given again). A variant that existed but is not among the drafts is refused while
    it has stock: its units would vanish (adjust them to 0 first)."""
    if len(drafts) > MAX_VARIANTS:
        raise InvalidInput(N_("A product can have at most %(max)d variants."), max=MAX_VARIANTS)
    if options and not drafts:
        raise InvalidInput(N_("A product with options needs at least one variant."))
    by_key = {variant.key: variant for variant in existing}
    next_number = max((int(key[1:]) for key in by_key), default=last_number) + 1
    next_number = max(next_number, last_number + 1)
    seen_values: set[tuple[str, ...]] = set()
    seen_skus: set[str] = set()
    variants: list[Variant] = []
    for draft in drafts:
        if len(draft.values) != len(options):
            raise InvalidInput(N_("Variant %(sku)s needs one value per option."), sku=draft.sku)
        for option, value in zip(options, draft.values, strict=True):
            if value not in option.values:
                raise InvalidInput(N_("Variant %(sku)s: %(value)s is not one of the values of %(option)s."),
                                   sku=draft.sku, value=value, option=option.name)
        if draft.values in seen_values:
            raise InvalidInput(N_("Two variants have the same option values (%(values)s)."),
                               values=", ".join(draft.values))
        if draft.sku in seen_skus:
            raise InvalidInput(N_("The SKU %(sku)s appears twice."), sku=draft.sku)
        seen_values.add(draft.values)
        seen_skus.add(draft.sku)
        if draft.key is not None:
            before = by_key.get(draft.key)
            if before is None:
                raise InvalidInput(N_("The form is out of date; reload the page and try again."))
            variants.append(Variant(draft.key, draft.sku, draft.values, before.stock, draft.price))
        else:
            variants.append(Variant(f"v{next_number}", draft.sku, draft.values, draft.stock, draft.price))
            next_number += 1
    kept = {variant.key for variant in variants}
    for gone in existing:
        if gone.key not in kept and gone.stock:
            raise InvalidInput(N_("Variant %(sku)s still has %(stock)d units in stock; adjust its stock to 0 "
                                  "before removing it."), sku=gone.sku, stock=gone.stock)
    return variants


def parse_variant_rows(options: tuple[ProductOption, ...], keys: list[str], skus: list[str],
                       values_by_option: list[list[str]], prices: list[str], stocks: list[str]) -> list[VariantDraft]:
    """The staff grid's rows as drafts: an existing row carries its key; a new row with no SKU and no
    values is a blank row and is left out. Each row's values come one per option, in order."""
    rows = len(keys)
    if any(len(column) != rows for column in (skus, prices, stocks, *values_by_option)) or \
            len(values_by_option) < len(options):
        raise InvalidInput(N_("The form is incomplete; reload the page and try again."))
    drafts: list[VariantDraft] = []
    for n in range(rows):
        key = keys[n].strip() or None
        values = tuple(" ".join(column[n].split()) for column in values_by_option[:len(options)])
        if key is None and not skus[n].strip() and not any(values):
            continue
        stock_text = stocks[n].strip() or "0"
        if key is None and not (stock_text.isascii() and stock_text.isdigit() and len(stock_text) <= 7):
            raise InvalidInput(N_("The stock must be a whole number from 0 to %(max)d."), max=1_000_000)
        drafts.append(VariantDraft(parse_variant_key(key) if key else None, parse_sku(skus[n]), values,
                                   parse_variant_price(prices[n]), int(stock_text) if key is None else 0))
    return drafts


def every_combination(options: tuple[ProductOption, ...], taken: set[tuple[str, ...]],
                      base_sku: str) -> list[VariantDraft]:
    """New rows for each combination of option values no variant has yet, with a suggested SKU
    (the base, then each value, upper-case ASCII): what "every combination" fills the grid with."""
    combinations: list[tuple[str, ...]] = [()]
    for option in options:
        combinations = [combo + (value,) for combo in combinations for value in option.values]
    return [VariantDraft(None, "-".join([base_sku, *(_sku_part(value) for value in combo)])[:MAX_SKU_LENGTH],
                         combo, None) for combo in combinations if combo and combo not in taken]


def sku_base(name: str) -> str:
    """A product name's first letters as an SKU prefix ("Camiseta básica" → "CAMISETA-BASICA")."""
    return "-".join(part for part in (_sku_part(word) for word in name.split()[:2]) if part)[:24] or "SKU"


def _sku_part(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "", ascii_text).upper()[:12]


def price_range(base: Decimal, variants: tuple[Variant, ...]) -> tuple[Decimal, Decimal]:
    """The cheapest and dearest price a product sells at (its variants on sale): the card says
    "desde 19,90 €" when they differ."""
    prices = [variant.price if variant.price is not None else base for variant in variants] or [base]
    return min(prices), max(prices)
