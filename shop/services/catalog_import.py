"""Importing and exporting the catalog file (shop/domain/catalog_file.py; docs/catalog.md).

An import reads the file twice. The first pass checks every row and plans each product against the
store — created, updated or unchanged, matched **by SKU** — and writes nothing; a dry run stops
there, and so does a file with any bad row. The second pass applies the plan in batches: new products
are inserted whole (with their variants and stock), changed ones are updated, and stock is **set**
to the file's number through the audited compare-and-set adjustment staff use, never added. After
each batch the catalog index is brought up to date for just those products.

Every step is safe to repeat: a product is found by its SKUs (a unique index keeps each SKU on one
product), an update writes what the file says, and a stock set to N twice is N. So an import that
was killed halfway, run again, finishes without a duplicate and without a lost row.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TextIO

from shop import failpoints
from shop.adapters.errors import DatabaseError
from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.catalog import MAX_STOCK, Product
from shop.domain.catalog_file import (
    COLUMNS,
    FileProduct,
    FileReader,
    RowError,
    csv_rows,
    decimal_text,
    jsonl_rows,
    options_with_values,
)
from shop.domain.errors import N_, Conflict, InvalidInput
from shop.domain.filters import csv_cell
from shop.domain.images import MAX_UPLOAD_BYTES
from shop.domain.json import JsonObject
from shop.domain.variants import MAX_OPTIONS, ProductOption, Variant, VariantDraft, check_variants
from shop.services import images as image_service
from shop.services.catalog import update_catalog_index

log = logging.getLogger(__name__)
BATCH = 200  # products planned and written together
Record = Callable[..., None]  # record(action, target, **details): the audit log
Progress = Callable[[int], None]  # rows read so far


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    products: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0})
    variants: dict[str, int] = field(default_factory=lambda: {"created": 0, "updated": 0, "unchanged": 0})
    stock_changes: int = 0
    images_added: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0

    @property
    def ok(self) -> bool:
        return not self.error_count


@dataclass(frozen=True)
class Plan:
    """What the import does to one product of the file."""
    product: FileProduct
    existing: Product | None  # None: it is created
    outcome: str  # created | updated | unchanged
    write: bool  # its fields, options or variants (not only stock) change
    options: tuple[ProductOption, ...]
    variants: list[Variant]  # as they will be (existing ones keep their key); [] for a product without options
    variant_outcomes: dict[str, str]  # SKU → created | updated | unchanged
    stock: dict[str, int]  # SKU → the stock the file sets


Rows = Iterable[tuple[int, dict[str, str]]]


def import_catalog(db: PostgresDatabase, store: MongoStore, open_rows: Callable[[], Rows],
                   *, dry_run: bool, record: Record | None = None, source: str = "",
                   progress: Progress | None = None, batch_size: int = BATCH,
                   images: ImageFiles | None = None) -> ImportReport:
    """Check the whole file, then (unless `dry_run` or a row is bad) apply it. `open_rows` reads the
    file from its start each time it is called (the file is read twice, never held in memory).
    `images`: the pictures the `image` column names (a ZIP uploaded with the file)."""
    report = _check(store, open_rows(), progress if dry_run else None, batch_size, images)
    if dry_run or not report.ok:
        return report
    applied = ImportReport(dry_run=False)
    try:
        _apply_file(db, store, open_rows, record, source, progress, batch_size, images, applied)
    except Exception as error:
        _tell_subscribers(db, source, applied, failure=type(error).__name__)
        raise
    _tell_subscribers(db, source, applied)
    return applied


def _tell_subscribers(db: PostgresDatabase, source: str, report: ImportReport, failure: str | None = None) -> None:
    """The `import.finished` webhook event: what the import did, and whether it stopped early
    (`stopped`: the catalog changed since the check; `failed`: an error, named)."""
    status = "failed" if failure else "stopped" if report.error_count else "done"
    try:
        db.webhooks.record_event("import.finished", {
            "file": source, "status": status, "failure": failure, "rows": report.rows,
            "products": report.products, "variants": report.variants, "stock_changes": report.stock_changes,
            "images_added": report.images_added, "error_count": report.error_count})
    except DatabaseError as error:  # the import's own outcome stands; only its announcement is lost
        log.warning("import.finished event of %s not recorded: %s", source, error)


def _apply_file(db: PostgresDatabase, store: MongoStore, open_rows: Callable[[], Rows], record: Record | None,
                source: str, progress: Progress | None, batch_size: int, images: ImageFiles | None,
                applied: ImportReport) -> None:
    reader = FileReader(open_rows())
    for batch in _batches(reader.products(), batch_size):
        plans, problems = _plan_batch(store, batch)
        if problems:  # the store changed since the check (another import, a staff edit): stop here
            applied.errors += problems
            applied.error_count += len(problems)
            break
        ids = _apply(store, plans, record, source, applied)
        update_catalog_index(db, store, list(ids.values()))
        if images is not None:
            _add_images(store, plans, ids, images, record, applied)
        _count(applied, plans)
        applied.rows = reader.rows
        if progress:
            progress(reader.rows)
        failpoints.hit("import.after_batch")
    applied.rows = reader.rows


def _check(store: MongoStore, rows: Rows, progress: Progress | None, batch_size: int,
           images: ImageFiles | None) -> ImportReport:
    report = ImportReport(dry_run=True)
    reader = FileReader(rows)
    for batch in _batches(reader.products(), batch_size):
        plans, problems = _plan_batch(store, batch)
        for product in batch:
            for name, _, line, _ in product.images:
                if images is None:
                    reader.error(line, "image", N_("This row names an image: upload the images in a ZIP with the "
                                                   "file."))
                elif not images.has(name):
                    reader.error(line, "image", N_("The image %(name)s is not in the ZIP."), name=name[:100])
        for problem in problems:
            reader.error(problem.line, problem.column, problem.message, **problem.params)
        _count(report, plans)
        if progress:
            progress(reader.rows)
    report.rows, report.errors, report.error_count = reader.rows, reader.errors, reader.error_count
    return report


def _batches(products: Iterator[FileProduct], size: int) -> Iterator[list[FileProduct]]:
    batch: list[FileProduct] = []
    for product in products:
        batch.append(product)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count(report: ImportReport, plans: list[Plan]) -> None:
    for plan in plans:
        report.products[plan.outcome] += 1
        for outcome in plan.variant_outcomes.values():
            report.variants[outcome] += 1


def _plan_batch(store: MongoStore, batch: list[FileProduct]) -> tuple[list[Plan], list[RowError]]:
    """Each product of the batch against the store: found by its SKUs (point lookups on the unique
    `skus` index), then compared field by field."""
    owners = store.catalog.products_with_skus([sku for product in batch for sku in product.skus])
    handles = store.catalog.products_with_handles([product.handle for product in batch])
    ids = set(owners.values()) | set(handles.values())
    existing = store.catalog.by_ids(sorted(ids), include_archived=True) if ids else {}
    plans: list[Plan] = []
    problems: list[RowError] = []
    for product in batch:
        found = {owners[sku] for sku in product.skus if sku in owners}
        by_handle = handles.get(product.handle)
        if len(found) > 1 or (found and by_handle and by_handle not in found):
            first = owners.get(product.skus[0], by_handle)
            sku = next((s for s in product.skus if s in owners and owners[s] != first), product.skus[0])
            problems.append(RowError(product.lines[sku], "sku", N_("The SKU %(sku)s belongs to another product than "
                                                                   "the other rows of %(handle)s."),
                                     {"sku": sku, "handle": product.handle}))
            continue
        if not found and by_handle:
            found = {by_handle}
        current = existing.get(found.pop()) if found else None
        try:
            plans.append(_plan(product, current))
        except _Refused as refused:
            problems.append(refused.error)
    return plans, problems


class _Refused(Exception):
    def __init__(self, error: RowError):
        self.error = error


def _plan(product: FileProduct, current: Product | None) -> Plan:
    options = options_with_values(product)
    stock = {variant.sku: variant.stock for variant in product.variants}
    if current is None:
        variants = check_variants(options, product.variants) if options else []
        return Plan(product, None, "created", True, options, variants, {sku: "created" for sku in stock}, stock)
    first = product.skus[0]
    if bool(options) != current.has_variants:
        message = (N_("The SKU %(sku)s is a product without options; give it options on its page first.")
                   if options else N_("The SKU %(sku)s is a variant of a product sold in options; its row needs "
                                      "the option columns."))
        raise _Refused(RowError(product.lines[first], "option1_name", message, {"sku": first}))
    fields_changed = any(current_value(current, name) != value for name, value in product.fields.items()) \
        or current.handle != product.handle
    if not options:
        outcome = "unchanged" if current.sku == first and current.stock == stock[first] else "updated"
        write = fields_changed or current.sku != first
        return Plan(product, current, "updated" if write else outcome, write, (), [], {first: outcome}, stock)
    if [o.name for o in current.options] != [o.name for o in options]:
        raise _Refused(RowError(product.lines[first], "option1_name",
                                N_("The options of %(handle)s differ from the product's (%(options)s); change them "
                                   "on its page first."),
                                {"handle": product.handle, "options": ", ".join(o.name for o in current.options)}))
    merged = tuple(ProductOption(c.name, tuple(dict.fromkeys((*c.values, *w.values))))
                   for c, w in zip(current.options, options, strict=True))
    by_sku = {variant.sku: variant for variant in current.variants}
    kept = [VariantDraft(v.key, v.sku, v.values, v.price, v.stock) for v in current.variants if v.sku not in stock]
    drafts = [replace(d, key=by_sku[d.sku].key) if d.sku in by_sku else d for d in product.variants]
    try:
        variants = check_variants(merged, [*kept, *drafts], current.variants, current.last_variant_number)
    except InvalidInput as error:
        raise _Refused(RowError(product.line, "option1_value", error.template, dict(error.params))) from None
    outcomes: dict[str, str] = {}
    described = False  # an SKU's values or price, or the options, change
    for draft in product.variants:
        before = by_sku.get(draft.sku)
        if before is None:
            outcomes[draft.sku] = "created"
            continue
        described |= before.values != draft.values or before.price != draft.price
        same = before.values == draft.values and before.price == draft.price and before.stock == draft.stock
        outcomes[draft.sku] = "unchanged" if same else "updated"
    write = fields_changed or described or merged != current.options or "created" in outcomes.values()
    changed = write or any(outcome != "unchanged" for outcome in outcomes.values())
    return Plan(product, current, "updated" if changed else "unchanged", write, merged, variants, outcomes, stock)


def current_value(product: Product, name: str) -> object:
    return {"name": product.name, "category": product.category, "price": product.price,
            "attributes": product.attributes, "description": product.description,
            "tax_class": product.tax_class}[name]


def _apply(store: MongoStore, plans: list[Plan], record: Record | None, source: str,
           report: ImportReport) -> dict[str, str]:
    """Write a batch's plans; returns {handle: product id} of the products written."""
    written: dict[str, str] = {}
    creates = [plan for plan in plans if plan.existing is None]
    if creates:
        documents = [{**plan.product.fields, "stock": 0, "handle": plan.product.handle,
                      **({"options": options_with_values(plan.product), "variants": plan.variants}
                         if plan.variants else {"sku": plan.product.skus[0],
                                                "stock": plan.stock[plan.product.skus[0]]})}
                     for plan in creates]
        # A unique index keeps each SKU on one product: if another import created one of these since
        # the plan, the insert raises SkuTaken and nothing of this product is written twice.
        ids = store.catalog.insert_many(documents)
        written.update({plan.product.handle: product_id for plan, product_id in zip(creates, ids, strict=True)})
        if record:
            for plan, product_id in zip(creates, ids, strict=True):
                record("product.imported", f"product:{product_id}", source=source, handle=plan.product.handle,
                       skus=plan.product.skus, stock=sum(plan.stock.values()))
    for plan in plans:
        if plan.existing is None or plan.outcome == "unchanged":
            continue
        product = plan.existing
        if plan.write:
            before = store.catalog.set_variants(product.product_id, product.updated_at, plan.options, plan.variants,
                                                plan.product.skus[0] if not plan.variants else None,
                                                fields={**plan.product.fields, "handle": plan.product.handle})
            if before is None:
                raise ImportConflict(plan.product.handle)
            if record:
                record("product.updated", f"product:{product.product_id}", source=source,
                       handle=plan.product.handle)
        written[plan.product.handle] = product.product_id
        for sku, target in plan.stock.items():
            _set_stock(store, plan, sku, target, record, source, report)
    return written


def _add_images(store: MongoStore, plans: list[Plan], ids: dict[str, str], images: ImageFiles,
                record: Record | None, report: ImportReport) -> None:
    """Add the pictures a batch's rows name, each once: an image the product has already (the same
    cleaned picture) is left alone, so a second import adds nothing. A row of a variant ties its
    picture to that variant. A picture that is not a clean JPEG, PNG or WebP is reported on its row;
    the rest of the import goes on."""
    for plan in plans:
        product_id = ids.get(plan.product.handle) or (plan.existing.product_id if plan.existing else None)
        stored = store.catalog.get(product_id, include_archived=True) if product_id and plan.variants else None
        keys = {variant.sku: variant.key for variant in stored.variants} if stored else {}
        for name, alt, line, sku in plan.product.images:
            if product_id is None:
                continue
            try:
                image = image_service.add_image(store, product_id, images.read(name), alt, keys.get(sku))
            except Conflict:
                continue  # it has that image already (or twelve): nothing to add
            except InvalidInput as error:
                report.errors.append(RowError(line, "image", error.template, dict(error.params)))
                report.error_count += 1
                continue
            report.images_added += 1
            if record:
                record("product.image_added", f"product:{product_id}", image=image.image_id, alt=image.alt)


class ImageFiles:
    """The pictures of an import, in a ZIP uploaded with the file: found by their path in the ZIP or,
    when that is unique, by their bare file name; read one at a time, never extracted to disk, each
    at most the size an uploaded image may have (a ZIP bomb stops there)."""

    def __init__(self, path: str):
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError):
            raise InvalidInput(N_("The images file is not a ZIP archive.")) from None
        members = [info for info in self._zip.infolist() if not info.is_dir()]
        self._by_name = {info.filename: info for info in members}
        bare: dict[str, list[zipfile.ZipInfo]] = {}
        for info in members:
            bare.setdefault(info.filename.rsplit("/", 1)[-1], []).append(info)
        self._by_name.update({name: found[0] for name, found in bare.items() if len(found) == 1
                              and name not in self._by_name})

    def has(self, name: str) -> bool:
        return name in self._by_name

    def read(self, name: str) -> bytes:
        info = self._by_name[name]
        if info.file_size > MAX_UPLOAD_BYTES:
            raise InvalidInput(N_("The image is larger than %(mb)d MB; upload a smaller one."),
                               mb=MAX_UPLOAD_BYTES // (1024 * 1024))
        with self._zip.open(info) as member:
            data = member.read(MAX_UPLOAD_BYTES + 1)  # the sizes a ZIP declares can lie
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput(N_("The image is larger than %(mb)d MB; upload a smaller one."),
                               mb=MAX_UPLOAD_BYTES // (1024 * 1024))
        return data

    def close(self) -> None:
        self._zip.close()


class ImportConflict(Exception):
    """A product changed between the plan and its write (a staff edit): run the import again."""


def _set_stock(store: MongoStore, plan: Plan, sku: str, target: int, record: Record | None, source: str,
               report: ImportReport) -> None:
    product = plan.existing
    assert product is not None
    variant = next((v.key for v in plan.variants if v.sku == sku), None)
    was = next((v for v in product.variants if v.sku == sku), None)
    if product.has_variants and was is None:
        return  # a new variant: created with its stock
    outcome = store.stock.set_to(product.product_id, target, MAX_STOCK, variant)
    if outcome is None:
        return
    before, after = outcome
    if before != after:
        report.stock_changes += 1
        if record:
            record("stock.adjusted", f"product:{product.product_id}", delta=after - before, before=before,
                   after=after, reason=f"import {source}".strip(), **({"variant": variant, "sku": sku}
                                                                       if variant else {"sku": sku}))


# --- export ----------------------------------------------------------------------------------------

def export_catalog(store: MongoStore, fmt: str, out: TextIO) -> int:
    """Write every product on sale in the import's format; returns how many."""
    count = 0
    for text, products in export_chunks(store, fmt):
        out.write(text)
        count = products
    return count


def export_chunks(store: MongoStore, fmt: str, chunk_rows: int = 500) -> Iterator[tuple[str, int]]:
    """The export as text chunks (and the products written so far), streamed: archived products are
    left out. Text a spreadsheet would run as a formula (starting with = + - @) is written with a '
    before it, which the import takes off again."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(COLUMNS)
    count = 0
    for product in store.catalog.every_product():
        if product.deleted:
            continue
        count += 1
        if fmt == "csv":
            for row in product_rows(product):
                writer.writerow([row[c] if c in ("price", "variant_price", "stock", "sku") else csv_cell(row[c])
                                 for c in COLUMNS])
        else:
            buffer.write(json.dumps(product_line(product), ensure_ascii=False) + "\n")
        if count % chunk_rows == 0:
            yield buffer.getvalue(), count
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue(), count


def handle_of(product: Product) -> str:
    return product.handle or (product.variants[0].sku if product.variants else product.sku) or product.product_id


def product_rows(product: Product) -> Iterator[dict[str, str]]:
    base = {"handle": handle_of(product), "name": product.name, "category": product.category,
            "price": decimal_text(product.price), "tax_class": product.tax_class,
            "description": product.description,
            "attributes": json.dumps(product.attributes, ensure_ascii=False) if product.attributes else ""}
    for n in range(MAX_OPTIONS):
        base[f"option{n + 1}_name"] = product.options[n].name if n < len(product.options) else ""
    variants = product.variants or (Variant("", product.sku or "", (), product.stock),)
    for variant in variants:
        row = dict(base)
        for n in range(MAX_OPTIONS):
            row[f"option{n + 1}_value"] = variant.values[n] if n < len(variant.values) else ""
        # Images stay out of the file: they travel in backups, and an import adds them from a ZIP.
        row.update({"sku": variant.sku, "variant_price": decimal_text(variant.price), "stock": str(variant.stock),
                    "image": "", "image_alt": ""})
        yield row


def product_line(product: Product) -> JsonObject:
    variants = product.variants or (Variant("", product.sku or "", (), product.stock),)
    return {"handle": handle_of(product), "name": product.name, "category": product.category,
            "price": decimal_text(product.price), "tax_class": product.tax_class,
            "description": product.description, "attributes": product.attributes,
            "options": [option.name for option in product.options],
            "variants": [{"sku": v.sku, "values": list(v.values), "price": decimal_text(v.price) or None,
                          "stock": v.stock} for v in variants]}


# --- files -----------------------------------------------------------------------------------------

class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read from it (an import's progress)."""

    def __init__(self, raw: io.BufferedIOBase, counted: Callable[[int], None] | None):
        self._raw, self._counted = raw, counted

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]  # the buffer protocol has no type here
        data = self._raw.read(len(buffer))
        buffer[:len(data)] = data
        if self._counted is not None:
            self._counted(len(data))
        return len(data)


def rows_of(path: str, fmt: str, counted: Callable[[int], None] | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a catalog file on disk, read as a stream (memory stays flat whatever its size):
    UTF-8 with or without a BOM. `counted` is told how many bytes each read took."""
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(raw, counted)), encoding="utf-8-sig",
                                errors="strict", newline="")
        try:
            yield from (csv_rows(text) if fmt == "csv" else jsonl_rows(text))
        except UnicodeDecodeError:
            raise InvalidInput(N_("The file is not UTF-8 text; save it as CSV UTF-8 and try again.")) from None
