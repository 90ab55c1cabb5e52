"""Catalog rules: what a product is, and which catalog queries are valid.

Every value that reaches a MongoDB filter passes through here first, as a validated scalar: a
search term becomes an escaped literal, attribute keys must be plain identifiers, and no user
input can become an operator (`$gt`), a dotted path or a regular expression.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from shop.domain.attribute_labels import attribute_key
from shop.domain.errors import N_, InvalidFields, InvalidInput, NotFound
from shop.domain.images import ProductImage
from shop.domain.json import JsonObject
from shop.domain.listing import MAX_CATEGORY_LENGTH, MAX_SEARCH_LENGTH, name_sort_key  # noqa: F401 - re-exported
from shop.domain.money import MAX_PRICE, MIN_PRICE, to_money
from shop.domain.taxes import parse_tax_class
from shop.domain.variants import ProductOption, Variant, VariantDraft, check_variants, parse_sku, price_range

_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PRODUCT_ID = re.compile(r"^[0-9a-f]{24}$")
# A product page says "¡Última unidad!" / "¡Últimas unidades!" from here down (the shopper's badge;
# the staff dashboard's low-stock list has its own setting, LOW_STOCK_THRESHOLD).
FEW_LEFT = 3


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    price: Decimal
    stock: int
    attributes: JsonObject = field(default_factory=JsonObject)
    description: str = ""
    deleted: bool = False  # archived by staff: kept for the orders that reference it, not sold
    updated_at: dt.datetime | None = None  # the edit form's revision: a stale form cannot overwrite a newer edit
    revision: int = 0  # counts the product's writes: the catalog index never goes back to an older one
    tax_class: str = "general"  # its IVA rate (shop.domain.taxes); books are super_reduced (4 %)
    images: tuple[ProductImage, ...] = ()  # the first is the main one (shop.domain.images)
    images_rev: int = 0  # counts changes of `images`: two staff edits of them never overwrite each other
    sku: str | None = None  # a product without options: its SKU (the default variant's)
    options: tuple[ProductOption, ...] = ()  # what it comes in (shop.domain.variants); none: one default variant
    variants: tuple[Variant, ...] = ()  # one per combination sold; `stock` is the sum of theirs
    handle: str | None = None  # the catalog file's name for it, once imported (shop.domain.catalog_file)
    last_variant_number: int = 0  # the highest variant key ever given (v7: 7): a removed one is never reused

    @property
    def main_image(self) -> ProductImage | None:
        return self.images[0] if self.images else None

    @property
    def has_variants(self) -> bool:
        return bool(self.variants)

    def variant(self, key: str | None) -> Variant | None:
        """The variant called `key`; None for the default variant (key None) or an unknown key."""
        return next((variant for variant in self.variants if variant.key == key), None) if key else None

    def sells(self, key: str | None) -> bool:
        """Whether `key` names something this product sells: its default variant (None) when it has
        no options, one of its variants when it has."""
        return self.variant(key) is not None if self.variants else key is None

    def price_of(self, key: str | None) -> Decimal:
        variant = self.variant(key)
        return variant.price if variant is not None and variant.price is not None else self.price

    def stock_of(self, key: str | None) -> int:
        variant = self.variant(key)
        return variant.stock if variant is not None else self.stock

    def label_of(self, key: str | None) -> str | None:
        """"Talla: M", or None for a product without options."""
        variant = self.variant(key)
        return variant.label(self.options) if variant is not None else None

    def sku_of(self, key: str | None) -> str | None:
        variant = self.variant(key)
        return variant.sku if variant is not None else self.sku

    @property
    def price_range(self) -> tuple[Decimal, Decimal]:
        return price_range(self.price, self.variants)

    @property
    def scarcest_stock(self) -> int:
        """What the low-stock list goes by: the stock, or for a product sold in options the stock of
        its scarcest variant (a size that runs out is low stock whatever the others hold)."""
        return min((variant.stock for variant in self.variants), default=self.stock)

    def image_of(self, key: str | None) -> ProductImage | None:
        """The picture of a variant (the first image tied to it), else the product's main one."""
        return next((image for image in self.images if key and image.variant == key), self.main_image)

    def low_variants(self, threshold: int) -> list[Variant]:
        return [variant for variant in self.variants if variant.stock <= threshold]

    @property
    def in_stock(self) -> bool:
        return self.stock > 0

    @property
    def low_stock(self) -> bool:
        return 0 < self.stock <= FEW_LEFT

    def key_attributes(self, limit: int = 3) -> list[tuple[str, object]]:
        """The first few scalar attributes: what a product card shows."""
        scalars = [(k, v) for k, v in self.attributes.items() if not isinstance(v, (dict, list))]
        return scalars[:limit]


def check_sells(product: Product, variant: str | None) -> None:
    """Refuse a line that names no variant of a product sold in options, or one it does not have."""
    if product.sells(variant):
        return
    if variant is None:
        raise InvalidInput(N_("Choose one of the options of %(name)s first."), name=product.name)
    raise NotFound(N_("That option of %(name)s is no longer sold."), name=product.name)


MAX_NAME_LENGTH = 200
MAX_STOCK = 1_000_000


MAX_DESCRIPTION_LENGTH = 5000


def new_product(name: str, category: str, price: object, stock: int, attributes: JsonObject, description: str = "",
                tax_class: str | None = None, sku: str | None = None, options: tuple[ProductOption, ...] = (),
                variants: list[VariantDraft] | None = None) -> JsonObject:
    """A product document's fields, validated: the database validator is the second line, not the first.
    With options, its variants (each with its first stock) replace `stock` and `sku`: the product's
    stock is then the sum of theirs."""
    problems: dict[str, InvalidInput] = {}
    if isinstance(stock, bool) or not isinstance(stock, int) or not 0 <= stock <= MAX_STOCK:
        problems["stock"] = InvalidInput(N_("The stock must be a whole number from 0 to %(max)d."), max=MAX_STOCK)
    try:
        fields = product_fields(name, category, price, attributes, description, tax_class)
    except InvalidFields as invalid:
        problems = {**invalid.problems, **problems}
    if sku and not (options or variants):
        try:
            sku = parse_sku(sku)
        except InvalidInput as error:
            problems["sku"] = error
    if problems:
        raise InvalidFields(problems)
    fields["stock"] = stock
    if options or variants:
        checked = check_variants(options, variants or [])
        for variant in checked:
            if not 0 <= variant.stock <= MAX_STOCK:
                raise InvalidInput(N_("The stock must be a whole number from 0 to %(max)d."), max=MAX_STOCK)
        return {**fields, "options": options, "variants": checked, "stock": sum(v.stock for v in checked)}
    if sku:
        fields["sku"] = sku
    return fields


def product_fields(name: str, category: str, price: object, attributes: JsonObject, description: str = "",
                   tax_class: str | None = None) -> JsonObject:
    """The fields staff may edit (everything but the stock, which only moves by adjustments). Every
    wrong field is reported at once (InvalidFields), so a form can mark them all."""
    problems: dict[str, InvalidInput] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        problems["name"] = InvalidInput(N_("A product needs a name of at most %(max)d characters."),
                                        max=MAX_NAME_LENGTH)
    if not isinstance(category, str) or not category.strip() or len(category) > MAX_CATEGORY_LENGTH:
        problems["category"] = InvalidInput(N_("A product needs a category of at most %(max)d characters."),
                                            max=MAX_CATEGORY_LENGTH)
    if isinstance(price, str):
        price = price.strip().replace(",", ".", 1)  # "19,99" as written in Spain
    amount = None
    try:
        amount = to_money(price)
    except (TypeError, ValueError, ArithmeticError):
        problems["price"] = InvalidInput(N_("The price must be an amount such as 19.99."))
    if amount is not None and not MIN_PRICE <= amount <= MAX_PRICE:
        problems["price"] = InvalidInput(N_("The price must be between %(min)s and %(max)s."), min=str(MIN_PRICE),
                                         max=str(MAX_PRICE))
    if not isinstance(attributes, dict):
        problems["attributes"] = InvalidInput(N_("The attributes must be a set of named values."))
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION_LENGTH:
        problems["description"] = InvalidInput(N_("The description can have at most %(max)d characters."),
                                               max=MAX_DESCRIPTION_LENGTH)
    try:
        tax = parse_tax_class(tax_class)
    except InvalidInput as error:
        problems["tax_class"] = error
    if problems:
        raise InvalidFields(problems)
    return {"name": name.strip(), "category": category.strip(), "price": amount,
            "attributes": attributes, "description": description.strip(), "tax_class": tax}


def lookalike_category(category: str, existing: list[str]) -> str | None:
    """The existing category `category` is probably a slip for: the same but for case or accents
    ("libros", "Electronica"), or one or two letters off ("Libross", "Eletrónica"). None for a
    category that exists, or that is new and like none of them."""
    if category in existing:
        return None
    folded = {name_sort_key(name): name for name in existing}
    if name_sort_key(category) in folded:
        return folded[name_sort_key(category)]
    close = difflib.get_close_matches(name_sort_key(category), list(folded), n=1, cutoff=0.8)
    return folded[close[0]] if close else None


_PERCENT = re.compile(r"^[+-]?\d{1,3}(\.\d{1,2})?$", re.ASCII)


def parse_percent_change(raw: object) -> Decimal:
    """A price change in per cent as staff write it ("-15", "+7,5"): from -90 to +300, not 0."""
    text = raw.strip().replace(" ", "").replace(",", ".") if isinstance(raw, str) else ""
    percent = Decimal(text) if _PERCENT.match(text) else Decimal(0)
    if percent == 0 or not -90 <= percent <= 300:
        raise InvalidInput(N_("Write the change in per cent, from -90 to +300, such as -15 or 7,5."))
    return percent


def changed_price(price: Decimal, percent: Decimal) -> Decimal:
    """`price` changed by `percent`, to the cent (half up): 19,99 € + 10 % = 21,99 €."""
    return (price * (100 + percent) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_product_id(raw: str) -> str:
    """A product id is a 24-character hexadecimal ObjectId; anything else is not a product."""
    if not isinstance(raw, str) or not _PRODUCT_ID.match(raw.lower()):
        raise InvalidInput(N_("That is not a valid product reference."))
    return raw.lower()


# --- what staff may write: flexible attributes, stock adjustments --------------------------------

MAX_ATTRIBUTES = 60  # keys in all, nested ones included
MAX_ATTRIBUTE_DEPTH = 3
MAX_ATTRIBUTE_TEXT = 500
MAX_ATTRIBUTE_LIST = 30
MAX_ATTRIBUTES_SOURCE = 20_000
_SAFE_INTEGER = 2**53  # beyond this a number loses precision in JSON and in JavaScript
MAX_STOCK_ADJUSTMENT = MAX_STOCK
MAX_REASON_LENGTH = 200


def parse_attributes(source: str) -> JsonObject:
    """Attributes written as a JSON object: typed values (text, number, true/false, list) and
    nested objects. Keys are plain identifiers, so a key can never become a MongoDB operator
    (`$set`) or a dotted path. Errors name the offending key."""
    if not isinstance(source, str) or len(source) > MAX_ATTRIBUTES_SOURCE:
        raise InvalidInput(N_("The attributes can have at most %(max)d characters."), max=MAX_ATTRIBUTES_SOURCE)
    if not source.strip():
        return {}
    try:
        value = json.loads(source, parse_constant=lambda name: math.nan)
    except ValueError as error:
        raise InvalidInput(N_("The attributes are not valid JSON (line %(line)d, column %(column)d)."),
                           line=getattr(error, "lineno", 1), column=getattr(error, "colno", 1)) from None
    if not isinstance(value, dict):
        raise InvalidInput(N_('The attributes must be a JSON object, such as {"color": "red"}.'))
    counter = [0]
    return _checked_object(value, "", 1, counter)


def _checked_object(value: JsonObject, path: str, depth: int, counter: list[int]) -> JsonObject:
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise InvalidInput(N_("Attribute %(key)s: objects can be nested at most %(max)d levels deep."),
                           key=path, max=MAX_ATTRIBUTE_DEPTH)
    checked = {}
    for key, item in value.items():
        counter[0] += 1
        if counter[0] > MAX_ATTRIBUTES:
            raise InvalidInput(N_("A product can have at most %(max)d attributes."), max=MAX_ATTRIBUTES)
        name = f"{path}.{key}" if path else key
        if not _ATTRIBUTE_KEY.match(key):
            raise InvalidInput(N_("Attribute %(key)s: names use lower-case letters, digits and _ and start with "
                                  "a letter (at most 40 characters)."), key=name[:60])
        checked[key] = _checked_value(item, name, depth, counter)
    return checked


def _checked_value(item: object, name: str, depth: int, counter: list[int]) -> object:
    if isinstance(item, dict):
        return _checked_object(item, name, depth + 1, counter)
    if isinstance(item, list):
        if len(item) > MAX_ATTRIBUTE_LIST:
            raise InvalidInput(N_("Attribute %(key)s: a list can have at most %(max)d values."),
                               key=name, max=MAX_ATTRIBUTE_LIST)
        if any(isinstance(element, (dict, list)) for element in item):
            raise InvalidInput(N_("Attribute %(key)s: a list holds text, numbers or true/false, not objects "
                                  "or lists."), key=name)
        return [_checked_value(element, name, depth, counter) for element in item]
    if isinstance(item, bool):
        return item
    if isinstance(item, int):
        if abs(item) >= _SAFE_INTEGER:
            raise InvalidInput(N_("Attribute %(key)s: the number is too large."), key=name)
        return item
    if isinstance(item, float):
        if not math.isfinite(item):
            raise InvalidInput(N_("Attribute %(key)s: the number is too large."), key=name)
        return item
    if isinstance(item, str):
        if len(item) > MAX_ATTRIBUTE_TEXT:
            raise InvalidInput(N_("Attribute %(key)s: text can have at most %(max)d characters."),
                               key=name, max=MAX_ATTRIBUTE_TEXT)
        # JSON can spell characters no database stores (\u0000, a lone surrogate \ud800) though the
        # form's own text has none: a product saved with one could never be listed.
        if "\x00" in item or any("\ud800" <= char <= "\udfff" for char in item):
            raise InvalidInput(N_("Attribute %(key)s: the text contains a character that cannot be saved "
                                  "(a NUL character or half of a surrogate pair); remove it."), key=name)
        return item
    raise InvalidInput(N_("Attribute %(key)s: use text, a number, true/false, a list or an object "
                          "(null is not a value)."), key=name)


def attributes_source(attributes: JsonObject) -> str:
    """The JSON an admin edits (the inverse of parse_attributes)."""
    return json.dumps(attributes, ensure_ascii=False, indent=2, sort_keys=False) if attributes else "{}"


def parse_stock_adjustment(raw_delta: object, raw_reason: object) -> tuple[int, str]:
    """A signed change of stock (+5 received, -2 damaged) and why: both are required."""
    text = raw_delta.strip() if isinstance(raw_delta, str) else ""
    if not re.fullmatch(r"[+-]?\d{1,7}", text, re.ASCII) or int(text) == 0 or abs(int(text)) > MAX_STOCK_ADJUSTMENT:
        raise InvalidInput(N_("The adjustment must be a whole number other than 0, such as 5 or -2."))
    reason = raw_reason.strip() if isinstance(raw_reason, str) else ""
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput(N_("Give a reason for the adjustment (at most %(max)d characters)."),
                           max=MAX_REASON_LENGTH)
    return int(text), reason


def parse_stock(raw: object) -> int:
    text = raw.strip() if isinstance(raw, str) else ""
    if not re.fullmatch(r"\d{1,7}", text, re.ASCII) or int(text) > MAX_STOCK:
        raise InvalidInput(N_("The stock must be a whole number from 0 to %(max)d."), max=MAX_STOCK)
    return int(text)


def parse_low_stock_threshold(raw: str | None, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,5}", raw, re.ASCII) or int(raw) > 10_000:
        raise InvalidInput(N_("The low-stock threshold must be a whole number from 0 to 10000."))
    return int(raw)


# --- the row editor: one typed value per row, nested objects as dotted names -------------------

ATTRIBUTE_TYPES = ("text", "number", "boolean", "text_list", "number_list")
LIST_SEPARATOR = ";"  # not ",": text has commas, and Spanish decimals are written with one
_TRUE, _FALSE = ("true", "sí", "si", "yes", "1"), ("false", "no", "0")
_NUMBER = re.compile(r"^-?\d{1,15}([.,]\d{1,9})?$")


def attribute_rows(attributes: JsonObject) -> list[tuple[str, str, str]] | None:
    """(dotted name, type, value as typed) per attribute, for the row editor; None when some value
    cannot be written as a row without changing it (a list mixing types, an empty object): such a
    product is edited as JSON instead."""
    rows: list[tuple[str, str, str]] = []

    def walk(prefix: str, value: JsonObject) -> bool:
        if not value and prefix:
            return False
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(item, dict):
                if not walk(name, item):
                    return False
            elif isinstance(item, list):
                if all(isinstance(v, str) and LIST_SEPARATOR not in v for v in item):
                    rows.append((name, "text_list", f"{LIST_SEPARATOR} ".join(item)))
                elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in item) and item:
                    rows.append((name, "number_list", f"{LIST_SEPARATOR} ".join(_number_text(v) for v in item)))
                else:
                    return False
            elif isinstance(item, bool):
                rows.append((name, "boolean", "true" if item else "false"))
            elif isinstance(item, (int, float)):
                rows.append((name, "number", _number_text(item)))
            else:
                rows.append((name, "text", item))
        return True

    return rows if walk("", attributes) else None


def _number_text(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def parse_attribute_rows(names: list[str], types: list[str], values: list[str]) -> JsonObject:
    """Attributes from the row editor. A row with no name is ignored (that is how a row is removed);
    `size.width_cm` puts width_cm inside the object size. Everything then passes the same checks
    as JSON input (parse_attributes)."""
    if not (len(names) == len(types) == len(values)):
        raise InvalidInput(N_("The form is incomplete; reload the page and try again."))
    attributes: JsonObject = {}
    for raw_name, kind, raw_value in zip(names, types, values, strict=True):
        name = (raw_name or "").strip()
        if not name:
            continue
        if kind not in ATTRIBUTE_TYPES:
            raise InvalidInput(N_("Attribute %(key)s: choose a type from the list."), key=name[:60])
        parts = [attribute_key(part.strip()) for part in name.split(".")]  # "Color" → color
        target = attributes
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise InvalidInput(N_("Attribute %(key)s is both a value and a group of values."), key=part[:60])
        if parts[-1] in target:
            raise InvalidInput(N_("Attribute %(key)s appears twice."), key=name[:60])
        target[parts[-1]] = _typed(name, kind, (raw_value or "").strip())
    counter = [0]
    return _checked_object(attributes, "", 1, counter)


def _typed(name: str, kind: str, text: str) -> object:
    if kind == "text":
        return text
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise InvalidInput(N_("Attribute %(key)s: write sí or no."), key=name[:60])
    items = [item.strip() for item in text.split(LIST_SEPARATOR)] if kind.endswith("_list") else [text]
    items = [item for item in items if item] if kind.endswith("_list") else items
    if kind in ("number", "number_list"):
        if not all(_NUMBER.match(item) for item in items):
            raise InvalidInput(N_("Attribute %(key)s: write numbers such as 16 or 2,5."), key=name[:60])
        numbers: list[float | int] = [float(i.replace(",", ".")) if re.search(r"[.,]", i) else int(i) for i in items]
        return numbers[0] if kind == "number" else numbers
    return items
