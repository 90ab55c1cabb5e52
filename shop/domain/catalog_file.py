"""The catalog file: one row per variant (CSV) or one product per line (JSON Lines), read and written
here, checked row by row with the same rules as the staff forms. docs/catalog.md has the format
and a worked example.

Reading never stops at the first bad row: every bad row is reported with its line, its column and
why, and a file with any bad row writes nothing (shop.services.catalog_import). Rows of one product
(one `handle`) come one after another; the product columns are repeated on each and must agree.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from shop.domain.catalog import MAX_STOCK, parse_attributes, product_fields
from shop.domain.errors import N_, InvalidInput
from shop.domain.filters import CSV_FORMULA_START
from shop.domain.json import JsonObject
from shop.domain.variants import (
    MAX_OPTIONS,
    ProductOption,
    VariantDraft,
    check_variants,
    parse_sku,
    parse_variant_price,
)

COLUMNS = ("handle", "name", "category", "price", "tax_class", "description", "attributes",
           "option1_name", "option1_value", "option2_name", "option2_value", "option3_name", "option3_value",
           "sku", "variant_price", "stock", "image", "image_alt")
REQUIRED = ("handle", "name", "category", "price", "sku", "stock")
PRODUCT_COLUMNS = ("name", "category", "price", "tax_class", "description", "attributes",
                   "option1_name", "option2_name", "option3_name")
MAX_ERRORS = 1000  # a report lists this many bad rows at most (and says how many more)
_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$", re.ASCII)
_STOCK = re.compile(r"^[0-9]{1,7}$", re.ASCII)
_TEXT_COLUMNS = ("handle", "name", "category", "description", "attributes", "option1_name", "option1_value",
                 "option2_name", "option2_value", "option3_name", "option3_value", "image", "image_alt")


@dataclass(frozen=True)
class RowError:
    """A bad row: where, and why (a message template and its parameters, translated where shown)."""
    line: int
    column: str
    message: str
    params: JsonObject = field(default_factory=dict)


@dataclass
class FileProduct:
    """One product of the file: its fields, options and variants as the file wants them."""
    handle: str
    line: int  # its first row
    fields: JsonObject  # name, category, price, attributes, description, tax_class (checked)
    options: tuple[ProductOption, ...]
    variants: list[VariantDraft]  # with the stock the file sets (key None: matched by SKU later)
    lines: dict[str, int] = field(default_factory=dict)  # SKU → its row's line
    # (file name, alt text, line, the SKU of its row)
    images: list[tuple[str, str, int, str]] = field(default_factory=list)

    @property
    def skus(self) -> list[str]:
        return [variant.sku for variant in self.variants]


def detect_format(name: str, head: bytes) -> str:
    """"csv" or "jsonl", from the file name, else from its first character."""
    lowered = name.lower()
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{" else "csv"


def csv_rows(stream: io.TextIOBase) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) per data row of a CSV file as real files come: UTF-8 with or without a
    BOM (the caller opens it as utf-8-sig), "," or ";" between fields (Spanish Excel writes ";"),
    quotes and newlines inside quoted fields. Raises InvalidInput for a header it cannot use."""
    first = stream.readline()
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = next(csv.reader([first], delimiter=delimiter), [])
    names = [name.strip().lower() for name in header]
    unknown = [name for name in names if name and name not in COLUMNS]
    if unknown:
        raise InvalidInput(N_("Unknown column %(column)s in the header; the columns are: %(columns)s."),
                           column=unknown[0][:40], columns=", ".join(COLUMNS))
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise InvalidInput(N_("The header lacks the column %(column)s."), column=missing[0])
    reader = csv.reader(stream, delimiter=delimiter)
    line = 2
    for values in reader:
        row_line = line
        line = reader.line_num + 2  # the next row starts after every physical line this one took
        if not any(value.strip() for value in values):
            continue
        yield row_line, {name: _unescaped(value) for name, value in zip(names, values, strict=False) if name}


def jsonl_rows(stream: io.TextIOBase) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: text}) per variant of a JSON Lines file: one product per line, its variants
    in a "variants" list, in the same names as the CSV's columns."""
    for number, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            product = json.loads(text)
        except ValueError:
            yield number, {"_error": "json"}
            continue
        if not isinstance(product, dict) or not isinstance(product.get("variants"), list) or not product["variants"]:
            yield number, {"_error": "shape"}
            continue
        options = product.get("options") or []
        base = {k: _jsonl_text(product.get(k)) for k in ("handle", "name", "category", "price", "tax_class",
                                                           "description")}
        base["attributes"] = json.dumps(product.get("attributes") or {}, ensure_ascii=False)
        for n in range(min(len(options), MAX_OPTIONS)):
            base[f"option{n + 1}_name"] = _jsonl_text(options[n])
        for variant in product["variants"]:
            if not isinstance(variant, dict):
                yield number, {"_error": "shape"}
                break
            row = dict(base)
            values = variant.get("values") or []
            for n in range(min(len(values), MAX_OPTIONS)):
                row[f"option{n + 1}_value"] = _jsonl_text(values[n])
            for column in ("sku", "stock", "image", "image_alt"):
                row[column] = _jsonl_text(variant.get(column))
            row["variant_price"] = _jsonl_text(variant.get("price"))
            yield number, row


def _jsonl_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _unescaped(value: str) -> str:
    """A cell as written: an export writes a leading ' before text a spreadsheet would run as a
    formula (shop.domain.filters.csv_cell); reading takes it off again."""
    if len(value) > 1 and value[0] == "'" and value[1:].startswith(CSV_FORMULA_START):
        return value[1:]
    return value


class FileReader:
    """Groups rows into products and checks each row; bad rows go to `errors` (each with its line,
    column and reason), good products come out of `products()`."""

    def __init__(self, rows: Iterable[tuple[int, dict[str, str]]]):
        self._rows = rows
        self.errors: list[RowError] = []
        self.error_count = 0
        self.rows = 0
        self._seen_handles: set[str] = set()
        self._seen_skus: dict[str, int] = {}

    def error(self, at: int, column: str, message: str, /, **params: object) -> None:
        """Report line `at` as bad, in `column`, for `message` (a template filled with `params`)."""
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(at, column, message, dict(params)))

    def products(self) -> Iterator[FileProduct]:
        group: list[tuple[int, dict[str, str]]] = []
        for line, row in self._rows:
            self.rows += 1
            if "_error" in row:
                self.error(line, "", N_("This line is not a product as JSON (an object with its variants)."))
                continue
            handle = (row.get("handle") or "").strip()
            if group and handle != group[0][1].get("handle", "").strip():
                product = self._product(group)
                group = []
                if product is not None:
                    yield product
            if not group and handle in self._seen_handles:
                self.error(line, "handle", N_("The rows of %(handle)s must come one after another; it appeared "
                                              "earlier in the file."), handle=handle[:100])
                continue
            self._seen_handles.add(handle)
            group.append((line, row))
        if group:
            product = self._product(group)
            if product is not None:
                yield product

    def _product(self, group: list[tuple[int, dict[str, str]]]) -> FileProduct | None:
        errors_before = self.error_count
        line, first = group[0]
        handle = (first.get("handle") or "").strip()
        if not _HANDLE.match(handle):
            self.error(line, "handle", N_("A handle has 1 to 100 letters, digits, dots, dashes, slashes or "
                                          "underscores; it names the product its rows belong to."))
        for other_line, row in group[1:]:
            for column in PRODUCT_COLUMNS:
                if (row.get(column) or "").strip() != (first.get(column) or "").strip():
                    self.error(other_line, column, N_("Differs from the first row of %(handle)s (line %(line)d): "
                                                      "the product's columns are the same on each of its rows."),
                               handle=handle[:100], line=line)
        fields = self._fields(line, first)
        options = self._options(line, first)
        drafts: list[VariantDraft] = []
        lines: dict[str, int] = {}
        images: list[tuple[str, str, int, str]] = []
        for row_line, row in group:
            draft = self._variant(row_line, row, len(options))
            if draft is not None:
                drafts.append(draft)
                lines[draft.sku] = row_line
            image = (row.get("image") or "").strip()
            if image and image not in {name for name, _, _, _ in images}:
                alt = " ".join((row.get("image_alt") or "").split())
                if not alt:
                    self.error(row_line, "image_alt", N_("An image needs its alt text: what it shows, for "
                                                         "people who cannot see it."))
                images.append((image, alt, row_line, draft.sku if draft is not None else ""))
        if not options and len(group) > 1:
            self.error(group[1][0], "option1_name", N_("A product without options has one row; give %(handle)s "
                                                       "options to sell it in variants."), handle=handle[:100])
        if options and drafts and self.error_count == errors_before:
            try:
                valued = tuple(ProductOption(o.name, tuple(dict.fromkeys(d.values[n] for d in drafts)))
                               for n, o in enumerate(options))
                check_variants(valued, [VariantDraft(None, d.sku, d.values, d.price) for d in drafts])
            except InvalidInput as error:
                self.error(line, "option1_value", error.template, **error.params)
        if self.error_count != errors_before or fields is None:
            return None
        return FileProduct(handle, line, fields, options, drafts, lines, images)

    def _fields(self, line: int, row: dict[str, str]) -> JsonObject | None:
        price = (row.get("price") or "").strip()
        try:
            if parse_variant_price(price) is None:
                raise InvalidInput(N_("The price must be an amount such as 19.99."))
        except InvalidInput as error:
            self.error(line, "price", error.template, **error.params)
            return None
        try:
            attributes = parse_attributes(row.get("attributes") or "")
        except InvalidInput as error:
            self.error(line, "attributes", error.template, **error.params)
            return None
        try:
            return product_fields(row.get("name") or "", row.get("category") or "", price.replace(",", ".", 1),
                                  attributes, row.get("description") or "",
                                  (row.get("tax_class") or "").strip() or None)
        except InvalidInput as error:
            self.error(line, _column_of(error.template), error.template, **error.params)
            return None

    def _options(self, line: int, row: dict[str, str]) -> tuple[ProductOption, ...]:
        names = [(row.get(f"option{n}_name") or "").strip() for n in range(1, MAX_OPTIONS + 1)]
        options = []
        for n, name in enumerate(names):
            if not name:
                if any(names[n:]):
                    self.error(line, f"option{n + 1}_name", N_("Options are filled in order: option1, then option2."))
                break
            options.append(ProductOption(" ".join(name.split())[:40], ()))
        return tuple(options)

    def _variant(self, line: int, row: dict[str, str], option_count: int) -> VariantDraft | None:
        try:
            sku = parse_sku(row.get("sku"))
        except InvalidInput as error:
            self.error(line, "sku", error.template, **error.params)
            return None
        if sku in self._seen_skus:
            self.error(line, "sku", N_("The SKU %(sku)s is already on line %(line)d of this file."), sku=sku,
                       line=self._seen_skus[sku])
            return None
        self._seen_skus[sku] = line
        stock = (row.get("stock") or "").strip()
        if not _STOCK.match(stock) or int(stock) > MAX_STOCK:
            self.error(line, "stock", N_("The stock must be a whole number from 0 to %(max)d."), max=MAX_STOCK)
            return None
        try:
            price = parse_variant_price(row.get("variant_price") or "")
        except InvalidInput as error:
            self.error(line, "variant_price", error.template, **error.params)
            return None
        values = tuple(" ".join((row.get(f"option{n}_value") or "").split()) for n in range(1, option_count + 1))
        for n, value in enumerate(values, start=1):
            if not value:
                self.error(line, f"option{n}_value", N_("Each variant needs a value for each option of its product."))
                return None
        if not option_count and any((row.get(f"option{n}_value") or "").strip() for n in range(1, MAX_OPTIONS + 1)):
            self.error(line, "option1_name", N_("A value without its option's name."))
            return None
        return VariantDraft(None, sku, values, price, int(stock))


def options_with_values(product: FileProduct) -> tuple[ProductOption, ...]:
    """The product's options with the values its variants use, in the order they first appear."""
    return tuple(ProductOption(option.name, tuple(dict.fromkeys(v.values[n] for v in product.variants)))
                 for n, option in enumerate(product.options))


def _column_of(template: str) -> str:
    for column in ("name", "category", "price", "description", "tax_class"):
        if column.replace("_", " ") in template.lower() or (column == "tax_class" and "iva" in template.lower()):
            return column
    return "name"


def decimal_text(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"
