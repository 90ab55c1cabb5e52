"""Staff edit what a product is sold as: its options (Talla: S, M, L) and the grid of its variants,
each with its SKU, option values, own price and first stock; a product without options has one SKU
of its own. Stock is then adjusted per variant on the product's page (shop.web.staff_products).
Every change is audited; auditors see the grid without a form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput
from shop.domain.variants import (
    MAX_OPTIONS,
    VariantDraft,
    every_combination,
    parse_options,
    parse_variant_rows,
    sku_base,
)
from shop.services import catalog as catalog_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.catalog import forget_product
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, get_store
from shop.web.staff_products import parse_revision, tell_subscribers_product_changed

bp = Blueprint("staff_variants", __name__, url_prefix="/admin/products/<product_id>/variants")
BLANK_ROWS = 3


def _sent_options():
    form = request.form
    return parse_options(list(zip(form.getlist("option_name"), form.getlist("option_values"), strict=False)))


def _sent_rows(options):
    form = request.form
    return parse_variant_rows(options, form.getlist("variant_key"), form.getlist("variant_sku"),
                              [form.getlist(f"variant_value_{n}") for n in range(MAX_OPTIONS)],
                              form.getlist("variant_price"), form.getlist("variant_stock"))


def _row(draft: VariantDraft, stock: int | None = None) -> dict:
    return {"key": draft.key or "", "sku": draft.sku, "values": list(draft.values),
            "price": str(draft.price) if draft.price is not None else "",
            "stock": str(stock if stock is not None else draft.stock)}


def _rows_as_sent() -> list[dict]:
    """The grid exactly as typed, to show back with an error."""
    form = request.form
    keys = form.getlist("variant_key")
    columns = [form.getlist(f"variant_value_{n}") for n in range(MAX_OPTIONS)]

    def at(values: list[str], n: int) -> str:
        return values[n] if n < len(values) else ""

    return [{"key": key, "sku": at(form.getlist("variant_sku"), n), "values": [at(c, n) for c in columns],
             "price": at(form.getlist("variant_price"), n), "stock": at(form.getlist("variant_stock"), n)}
            for n, key in enumerate(keys)
            if key or at(form.getlist("variant_sku"), n).strip() or any(at(c, n).strip() for c in columns)]


def _render(product_id: str, options: list[tuple[str, str]] | None = None, rows: list[dict] | None = None,
            error: str | None = None, sku: str | None = None):
    """The grid: `options` as (name, values typed) rows, `rows` one dict of typed text per variant."""
    product = catalog_service.product_detail(get_store(), product_id, include_archived=True)
    if options is None:
        options = [(option.name, ", ".join(option.values)) for option in product.options]
    if rows is None:
        rows = [_row(VariantDraft(v.key, v.sku, v.values, v.price), v.stock) for v in product.variants]
    blank = {"key": "", "sku": "", "values": [], "price": "", "stock": ""}
    return render_template("staff/product_variants.html", product=product, options=options,
                           rows=rows + [blank] * BLANK_ROWS, option_slots=MAX_OPTIONS, error=error,
                           sku=product.sku if sku is None else sku,
                           revision=request.form.get("revision") or
                           (product.updated_at.isoformat() if product.updated_at else ""))


@bp.get("")
@roles_required(*STAFF)
def show(product_id: str):
    return _render(product_id)


@bp.post("")
@roles_required(Role.ADMIN)
def save(product_id: str):
    sku = request.form.get("sku", "").strip()
    try:
        options = _sent_options()
        drafts = _sent_rows(options)
        if request.form.get("action") == "combinations":
            product = catalog_service.product_detail(get_store(), product_id, include_archived=True)
            base = sku_base(product.name)
            added = every_combination(options, {d.values for d in drafts}, base)
            return _render(product_id, _options_as_sent(), _rows_as_sent() + [_row(d) for d in added], sku=sku)
        change = catalog_service.edit_variants(get_db(), get_store(), product_id, options, drafts, sku or None,
                                               parse_revision(request.form.get("revision", "")))
    except (InvalidInput, Conflict) as error:
        return _render(product_id, _options_as_sent(), _rows_as_sent(), translate_error(error), sku), \
            status_for(error)
    forget_product(change.product_id)
    if change.changed:
        audit("product.variants_changed", f"product:{change.product_id}", changes=change.changed)
        tell_subscribers_product_changed(change.product_id, ["variants"])
    flash(gettext("Variants saved."), "success")
    return redirect(url_for("staff_variants.show", product_id=change.product_id), 303)


def _options_as_sent() -> list[tuple[str, str]]:
    """The options rows exactly as typed (name, values), blank ones left out."""
    form = request.form
    return [(name, values) for name, values in zip(form.getlist("option_name"), form.getlist("option_values"),
                                                   strict=False) if name.strip() or values.strip()]
