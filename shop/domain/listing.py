"""Catalog listings: the query a catalog page asks, its keyset position, search words and sort keys.

A listing is read "after this product" (keyset paging), never "skip N products": the cost of a page
does not grow with its depth, and products added between two page loads are neither skipped nor
shown twice. Search works on words folded for case and accents, so "cafe" finds "Café" and the input
is never a pattern. Everything here is plain Python; `shop.adapters.postgres.catalog_index` turns a
validated `CatalogQuery` into SQL with parameters.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from shop.domain.errors import N_, InvalidInput
from shop.domain.json import JsonObject

if TYPE_CHECKING:  # filters.py imports this module
    from shop.domain.catalog import Product
    from shop.domain.filters import RowPosition

MAX_SEARCH_LENGTH = 100
MAX_SEARCH_WORDS = 8
MAX_CATEGORY_LENGTH = 60
MAX_FILTER_VALUE_LENGTH = 100
MAX_ATTRIBUTE_FILTERS = 6
MAX_CURSOR_LENGTH = 800
# Counting matches stops here: "more than 1,000 products" costs what counting 1,000 does.
COUNT_LIMIT = 1000
ATTRIBUTE_FILTER_PREFIX = "attr."
SORT_OPTIONS = ("name", "price_asc", "price_desc")
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PRODUCT_ID = re.compile(r"^[0-9a-f]{24}$")
_PRICE_KEY = re.compile(r"^\d{1,10}\.\d{2}$", re.ASCII)
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; never punctuation or operators
_SPANISH_N_TILDE = "\u0303"  # the combining tilde of "ñ", which sorts as its own letter


# --- folding: one spelling for case and accents ----------------------------------------------------

def fold(text: str) -> str:
    """Lower case without accents: "Café Ñandú" → "cafe nandu" (what search compares)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_sort_key(name: str) -> str:
    """The key products are listed by: case and accents ignored, but "ñ" after "n" as in Spanish
    ("n~" sorts after every "n" + letter and before "o" in a byte-wise order)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().strip())
    key: list[str] = []
    for ch in decomposed:
        if ch == _SPANISH_N_TILDE and key and key[-1] == "n":
            key.append("~")
        elif not unicodedata.combining(ch):
            key.append(ch)
    return "".join(key)


def words_of(text: str) -> list[str]:
    """The folded words of a text, in order, without repeats."""
    return list(dict.fromkeys(_WORD.findall(fold(text))))


def index_words(name: str, category: str) -> list[str]:
    """The words a product is found by: those of its name and of its category."""
    return list(dict.fromkeys(words_of(name) + words_of(category)))


def facet_attributes(attributes: JsonObject) -> JsonObject:
    """The attributes a listing can filter by: top-level text (short enough to be a filter value),
    numbers and yes/no, and lists of those. Nested objects are shown on the product page only."""
    def filterable(value: object) -> bool:
        if isinstance(value, str):
            return len(value) <= MAX_FILTER_VALUE_LENGTH
        return isinstance(value, (bool, int, float))

    facets = {}
    for key, value in attributes.items():
        if isinstance(value, list):
            kept = [v for v in value if filterable(v)]
            if kept:
                facets[key] = kept
        elif filterable(value):
            facets[key] = value
    return facets


def attribute_value_candidates(raw: str) -> list[str | int | float | bool]:
    """The typed values a filter string may mean: attributes keep their types (16 vs "16")."""
    candidates: list[str | int | float | bool] = [raw]
    if re.fullmatch(r"-?\d{1,15}", raw, re.ASCII):
        candidates.append(int(raw))
    elif re.fullmatch(r"-?\d{1,15}\.\d{1,6}", raw, re.ASCII):
        candidates.append(float(raw))
    if raw in ("true", "false"):
        candidates.append(raw == "true")
    return candidates


# Clothing sizes in the order a person reads them (a filter lists S before M before L, not L, M, S).
_SIZE_ORDER = {size: rank for rank, size in enumerate(
    ("XXXS", "XXS", "XS", "S", "M", "L", "XL", "XXL", "2XL", "XXXL", "3XL", "4XL", "5XL"))}


def sorted_facet_values(values: list[object]) -> list[object]:
    """A filter's values in the order a person expects: clothing sizes by size (XS, S, M, L, XL)
    when every value is one, numbers by value, yes/no and text after them, text without regard to
    case or accents."""
    return [value for value, _ in sorted_facet_counts([(value, 0) for value in values])]


def sorted_facet_counts(counted: list[tuple[object, int]]) -> list[tuple[object, int]]:
    """A filter's (value, products) pairs in the order of sorted_facet_values."""
    if counted and all(isinstance(v, str) and v.strip().upper() in _SIZE_ORDER for v, _ in counted):
        return sorted(counted, key=lambda pair: _SIZE_ORDER[str(pair[0]).strip().upper()])

    def key(pair: tuple[object, int]) -> tuple[int, float, str]:
        value = pair[0]
        if isinstance(value, bool):
            return 1, float(value), ""
        if isinstance(value, (int, float)):
            return 0, float(value), ""
        return 2, 0.0, fold(str(value))

    return sorted(counted, key=key)


def filter_value_label(value: object) -> str:
    """How a facet value is written in a URL (the inverse of attribute_value_candidates)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- positions: "after this product" in one listing order ------------------------------------------

@dataclass(frozen=True)
class Position:
    """Where a listing stands: the sort key of a product, and its id to break ties."""

    sort: str
    key: str | Decimal
    product_id: str

    def token(self) -> str:
        """The opaque URL form (base64 of JSON: no character needs escaping in a link)."""
        raw = json.dumps([self.sort, str(self.key), self.product_id], ensure_ascii=False, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def parse_position(token: str, sort: str) -> Position:
    """A position from a link; a forged or stale one is refused, never used as it is."""
    invalid = InvalidInput(N_("That page link is not valid any more; start again from the first page."))
    if not token or len(token) > MAX_CURSOR_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", token, re.ASCII):
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        value = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise invalid from None
    if (not isinstance(value, list) or len(value) != 3 or not all(isinstance(v, str) for v in value)
            or value[0] != sort or not _PRODUCT_ID.match(value[2])):
        raise invalid
    text: str = value[1]
    key: str | Decimal = text
    if sort == "name":
        if len(text) > 2 * 200:
            raise invalid
    else:
        if not _PRICE_KEY.match(text):
            raise invalid
        try:
            key = Decimal(text)
        except InvalidOperation:
            raise invalid from None
    return Position(sort, key, value[2])


# --- the query a catalog page asks ------------------------------------------------------------------

@dataclass(frozen=True)
class CatalogQuery:
    search: str = ""
    category: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()
    sort: str = "name"
    after: Position | None = None
    before: Position | None = None
    per_page: int = 12

    @property
    def words(self) -> list[str]:
        return words_of(self.search)[:MAX_SEARCH_WORDS]

    @property
    def is_first_page(self) -> bool:
        return self.after is None and self.before is None

    @property
    def exact_name_key(self) -> str | None:
        """Products named exactly as searched come first (on the first page of a name listing)."""
        return name_sort_key(self.search) if self.search and self.sort == "name" else None


def _single(args: Mapping[str, list[str]], name: str) -> str | None:
    values = args.get(name) or []
    if len(values) > 1:
        raise InvalidInput(N_("The parameter %(name)s was given more than once."), name=name[:40])
    return values[0] if values else None


def _no_control_characters(text: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise InvalidInput(N_("The search and the filters cannot contain control characters."))
    return text


def parse_catalog_query(args: Mapping[str, list[str]], per_page: int = 12) -> CatalogQuery:
    """Validate the catalog's query-string parameters (a mapping of name → list of values)."""
    search = _no_control_characters((_single(args, "q") or "").strip())
    if len(search) > MAX_SEARCH_LENGTH:
        raise InvalidInput(N_("The search can have at most %(max)d characters."), max=MAX_SEARCH_LENGTH)

    category = _no_control_characters((_single(args, "category") or "").strip()) or None
    if category is not None and len(category) > MAX_CATEGORY_LENGTH:
        raise InvalidInput(N_("Unknown category."))

    sort = _single(args, "sort") or "name"
    if sort not in SORT_OPTIONS:
        raise InvalidInput(N_("Unknown sort order; choose name, price_asc or price_desc."))

    after_token, before_token = _single(args, "after"), _single(args, "before")
    if after_token is not None and before_token is not None:
        raise InvalidInput(N_("That page link is not valid any more; start again from the first page."))
    after = parse_position(after_token, sort) if after_token is not None else None
    before = parse_position(before_token, sort) if before_token is not None else None

    attributes = []
    for name in sorted(args):
        if not name.startswith(ATTRIBUTE_FILTER_PREFIX):
            continue
        key = name[len(ATTRIBUTE_FILTER_PREFIX):]
        if not _ATTRIBUTE_KEY.match(key):
            raise InvalidInput(N_("Unknown product attribute in the filter."))
        value = _no_control_characters((_single(args, name) or "").strip())
        if not value:
            continue
        if len(value) > MAX_FILTER_VALUE_LENGTH:
            raise InvalidInput(N_("A filter value can have at most %(max)d characters."), max=MAX_FILTER_VALUE_LENGTH)
        attributes.append((key, value))
    if len(attributes) > MAX_ATTRIBUTE_FILTERS:
        raise InvalidInput(N_("Use at most %(max)d attribute filters at once."), max=MAX_ATTRIBUTE_FILTERS)

    return CatalogQuery(search=search, category=category, attributes=tuple(attributes), sort=sort,
                        after=after, before=before, per_page=per_page)


# --- what a listing page shows ---------------------------------------------------------------------

@dataclass(frozen=True)
class Listing:
    """One page of a listing: its products, how many match, and the links to the pages beside it."""

    items: list[Any]  # products, orders, users, audit entries: whatever the list shows
    total: int
    total_is_exact: bool
    next_position: Position | RowPosition | None  # RowPosition: the staff lists (shop.domain.filters)
    previous_position: Position | RowPosition | None
    has_previous: bool
    total_is_estimate: bool = False  # read by a walk: the share of matches seen, times the range

    @property
    def has_next(self) -> bool:
        return self.next_position is not None



# --- how a page of the catalog is read (shop.adapters.postgres.catalog_reader follows these) ---------

# Up to this many matches, reading all of them and sorting is cheaper than walking a listing order.
FEW_MATCHES = 1000
# Before every product in name order: where a first page filled with exact name matches goes on.
BEFORE_ALL_NAMES = Position("name", "", "0" * 24)


def estimated_total(share: float, in_range: int, per_page: int) -> int:
    """The total a walked listing shows: the share of walked entries that matched times the products
    in its range, rounded (to hundreds above 1,000, to tens below), never less than a page and one."""
    estimate = share * in_range
    return max(per_page + 1, int(round(estimate, -2 if estimate > 1000 else -1)))


@dataclass(frozen=True)
class ListingIds:
    """A page of a listing as the catalog index reads it: the products' ids in order (their
    documents come from MongoDB) and everything else the Listing says."""

    product_ids: list[str]
    total: int
    total_is_exact: bool
    next_position: Position | None
    previous_position: Position | None
    has_previous: bool
    total_is_estimate: bool = False

    def with_items(self, items: list[Any]) -> Listing:
        return Listing(items=items, total=self.total, total_is_exact=self.total_is_exact,
                       next_position=self.next_position, previous_position=self.previous_position,
                       has_previous=self.has_previous, total_is_estimate=self.total_is_estimate)

# --- the catalog index's row for a product ---------------------------------------------------------

@dataclass(frozen=True)
class CatalogEntry:
    """What the catalog index keeps of a product (a projection of its MongoDB document)."""

    product_id: str
    revision: int
    category: str
    name_key: str
    price: Decimal
    archived: bool
    facets: JsonObject
    words: tuple[str, ...]
    # As read with the entry (a product sold in options: its scarcest variant's, for the low-stock
    # list); later changes arrive through the recovery pass.
    stock: int | None = None

    @classmethod
    def of(cls, product: Product) -> CatalogEntry:
        """The entry of a `shop.domain.catalog.Product`: a product sold in options is listed at its
        lowest price, filtered by the option values it has in stock, and found by its SKUs too."""
        skus = [variant.sku for variant in product.variants] or ([product.sku] if product.sku else [])
        return cls(product_id=product.product_id, revision=product.revision, category=product.category,
                   name_key=name_sort_key(product.name), price=product.price_range[0], archived=product.deleted,
                   facets={**facet_attributes(product.attributes), **option_facets(product)},
                   words=tuple(dict.fromkeys(index_words(product.name, product.category) +
                                             [word for sku in skus for word in words_of(sku)])),
                   stock=product.scarcest_stock)

    @property
    def counted_facets(self) -> list[tuple[str, object]]:
        """(attribute, value) pairs counted for the filters (see `counted_facets`)."""
        return counted_facets(self.facets)


OPTION_KEYS = "_options"  # in an entry's facets: which keys are option facets (attribute keys start with a letter)


def option_key(name: str) -> str:
    """The filter key of an option ("Talla" → "talla", "Tamaño" → "tamano"): a plain identifier,
    like an attribute's."""
    key = re.sub(r"[^a-z0-9]+", "_", fold(name)).strip("_")[:40]
    return key if key[:1].isalpha() else f"o_{key}"[:40]


def option_facets(product: Product) -> JsonObject:
    """A product sold in options, as the filters see it: per option, the values of its variants in
    stock (a sold-out size is not offered), and which facet keys are options."""
    if not product.variants:
        return {}
    facets: JsonObject = {}
    for n, option in enumerate(product.options):
        in_stock = {variant.values[n] for variant in product.variants if variant.in_stock and n < len(variant.values)}
        facets[option_key(option.name)] = [value for value in option.values if value in in_stock]
    facets[OPTION_KEYS] = sorted(key for key in facets)
    return facets


def counted_facets(facets: JsonObject) -> list[tuple[str, object]]:
    """(attribute, value) pairs counted for the filters: scalar attributes, and each value of an
    option facet (a list of sizes in stock). Other lists are filtered by but not offered as a filter."""
    options = set(facets.get(OPTION_KEYS) or ())
    pairs = [(k, v) for k, v in facets.items() if not isinstance(v, list)]
    pairs += [(k, v) for k in sorted(options) for v in facets.get(k) or ()]
    return sorted(pairs, key=lambda kv: (kv[0], json.dumps(kv[1])))
