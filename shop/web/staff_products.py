"""Staff product management: list, create, edit (typed flexible attributes), archive, restock.

Admins change products; auditors see the same pages without a single form (the server refuses
their POSTs anyway, see shop.web.access). Every change is recorded in the audit log with what it
was before and after.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, ngettext

from shop.domain.accounts import Role
from shop.domain.catalog import (
    ATTRIBUTE_TYPES,
    attribute_rows,
    attributes_source,
    parse_attribute_rows,
    parse_attributes,
    parse_percent_change,
    parse_product_id,
    parse_stock,
    parse_stock_adjustment,
)
from shop.domain.errors import N_, Conflict, InvalidFields, InvalidInput, NotFound
from shop.domain.filters import parse_page_size
from shop.domain.listing import parse_catalog_query
from shop.domain.webhooks import falls_to_low_stock, stock_low_payload
from shop.services import attribute_labels as label_service
from shop.services import catalog as catalog_service
from shop.services import reports, staff_lists
from shop.web.access import STAFF, roles_required
from shop.web.attribute_labels import forget_labels
from shop.web.auditing import audit
from shop.web.catalog import forget_product
from shop.web.confirm import confirmation_page
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, get_store, shop_settings

bp = Blueprint("staff_products", __name__, url_prefix="/admin/products")
_REFUSALS = (InvalidInput, Conflict)
LOW_STOCK_LISTED = 200  # the low-stock view reads one bounded range of the index, fewest first
_BLANK_ROW = ("", "text", "")


def _form_fields() -> dict:
    """The edit form's values, validated as far as the form can say (the rest in shop.domain.catalog).
    Attributes come from the row editor, or from the JSON editor when that is the one shown."""
    form = request.form
    if "attributes" in form:
        attributes = parse_attributes(form["attributes"])
    else:
        attributes = parse_attribute_rows(form.getlist("attr_name"), form.getlist("attr_type"),
                                          form.getlist("attr_value"))
    return {"name": form.get("name", ""), "category": form.get("category", ""), "price": form.get("price", ""),
            "description": form.get("description", ""), "attributes": attributes,
            "tax_class": form.get("tax_class") or None}


def _refused(error: InvalidInput | Conflict) -> dict:
    """What a refused product form shows: every message in the summary, and each wrong field's own
    message beside it (`field_errors`)."""
    if isinstance(error, InvalidFields):
        fields = {name: translate_error(problem) for name, problem in error.problems.items()}
        return {"error": " ".join(fields.values()), "field_errors": fields}
    return {"error": translate_error(error), "field_errors": {}}


def _stock_or_invalid(raw: str) -> int:
    """The form's stock, or -1 (which new_product reports with the other fields) when unreadable."""
    try:
        return parse_stock(raw)
    except InvalidInput:
        return -1


def _keep_typed_labels() -> None:
    """Names typed in the attribute rows ("Garantía (meses)") name their keys in the form's language."""
    labelled = label_service.keep_typed_labels(get_store(), request.form.getlist("attr_name"), str(get_locale()))
    if labelled:
        forget_labels()
        audit("attribute_label.changed", "attributes", labelled=labelled)


def _attribute_editor(attributes: dict, blank_rows: int = 3) -> dict:
    """Which attribute editor the form shows, filled in: rows (one typed value each) by default,
    JSON when asked for (?editor=json) or when some value cannot be written as a row. A form sent
    back with an error keeps exactly what was typed, in the editor it was typed in. Every save
    offers `blank_rows` empty rows for new attributes."""
    form, types = request.form, {"attribute_types": ATTRIBUTE_TYPES}
    if "attr_name" in form:
        sent = zip(form.getlist("attr_name"), form.getlist("attr_type"), form.getlist("attr_value"), strict=False)
        typed = [row for row in sent if row[0].strip() or row[2].strip()]  # a tampered form: shown as far as it goes
        return {"editor": "rows", "rows": typed + [_BLANK_ROW] * blank_rows, **types}
    if "attributes" in form:
        return {"editor": "json", "attributes_json": form["attributes"], "rows_possible": True, **types}
    rows = attribute_rows(attributes)
    if rows is None or request.args.get("editor") == "json":
        return {"editor": "json", "attributes_json": attributes_source(attributes), "rows_possible": rows is not None,
                **types}
    return {"editor": "rows", "rows": rows + [_BLANK_ROW] * blank_rows, **types}


def parse_revision(raw: str) -> dt.datetime | None:
    """The product's `updated_at` when the form was read (None: a product written without one)."""
    if not raw:
        return None
    try:
        return dt.datetime.fromisoformat(raw)
    except (TypeError, ValueError):
        raise InvalidInput(N_("The form is incomplete; reload the page and try again.")) from None


@bp.get("/")
@roles_required(*STAFF)
def index():
    """Products on sale (or archived) by name or price, in a category, searched by name; or, with
    `stock=low`, the ones with the least stock (at most LOW_STOCK_LISTED, fewest first)."""
    args = request.args.to_dict(flat=False)
    query = parse_catalog_query(args, per_page=parse_page_size(args))
    archived = request.args.get("archived") == "1"
    threshold = shop_settings().low_stock_threshold
    low = request.args.get("stock") == "low" and not archived
    listing = None if low else catalog_service.browse_catalog(get_db(), get_store(), query, archived=archived)
    scarce = reports.low_stock(get_db(), get_store(), threshold, LOW_STOCK_LISTED) if low else None
    return render_template("staff/products.html", listing=listing, query=query, search=query.search,
                           archived=archived, per_page=query.per_page,
                           categories=catalog_service.category_names(get_db()), threshold=threshold,
                           low_stock=scarce, low_stock_listed=LOW_STOCK_LISTED)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def create():
    if request.method == "GET":
        return render_template("staff/product_new.html", form={"stock": "0"},
                               categories=catalog_service.category_names(get_db()), **_attribute_editor({}, 8))
    try:
        fields = {**_form_fields(), "stock": _stock_or_invalid(request.form.get("stock", "")),
                  "sku": request.form.get("sku", "").strip() or None}
        product_id, stored = catalog_service.create_product(get_db(), get_store(), fields,
                                                            new_category=request.form.get("new_category") == "1")
    except _REFUSALS as error:
        return render_template("staff/product_new.html", form=request.form, **_refused(error),
                               categories=catalog_service.category_names(get_db()),
                               **_attribute_editor({}, 8)), status_for(error)
    _keep_typed_labels()
    audit("product.created", f"product:{product_id}", after=stored)
    flash(gettext("Product created."), "success")
    return redirect(url_for("staff_products.edit", product_id=product_id), 303)


def _render_edit(product_id: str, form: dict | None = None, error: str | None = None, stock_error: str | None = None,
                 field_errors: dict | None = None):
    product = catalog_service.product_detail(get_store(), product_id, include_archived=True)
    history = staff_lists.audit_history(get_db(), get_store(), f"product:{product.product_id}")
    if form is None:
        form = {"name": product.name, "category": product.category, "price": str(product.price),
                "description": product.description, "tax_class": product.tax_class}
    return render_template("staff/product_edit.html", product=product, form=form, history=history,
                           actor_names=staff_lists.actor_names(get_db(), history),
                           revision=product.updated_at.isoformat() if product.updated_at else "",
                           error=error, stock_error=stock_error, field_errors=field_errors or {},
                           categories=catalog_service.category_names(get_db()),
                           **_attribute_editor(product.attributes))


@bp.get("/<product_id>")
@roles_required(*STAFF)
def edit(product_id: str):
    return _render_edit(product_id)


def tell_subscribers_product_changed(product_id: str, fields: list[str]) -> None:
    """The `product.updated` webhook event, written right after the change (docs/webhooks.md: a
    MongoDB change shares no transaction with PostgreSQL, so a crash in between loses this event)."""
    get_db().webhooks.record_event("product.updated", {"product_id": product_id, "changed": fields})


def tell_subscribers_if_stock_fell_low(adjustment: catalog_service.StockAdjustment) -> None:
    """The `stock.low` webhook event, when staff took the stock down to the threshold (a sale sends
    it with its order instead): written right after the change, like `product.updated`."""
    threshold = shop_settings().low_stock_threshold
    if not falls_to_low_stock(adjustment.before, adjustment.after, threshold):
        return
    product = get_store().catalog.get(adjustment.product_id, include_archived=True)
    get_db().webhooks.record_event("stock.low", stock_low_payload(
        adjustment.product_id, product.name if product else "", adjustment.sku, adjustment.variant,
        adjustment.after, threshold))


@bp.post("/<product_id>")
@roles_required(Role.ADMIN)
def update(product_id: str):
    try:
        change = catalog_service.edit_product(get_db(), get_store(), product_id, _form_fields(),
                                              parse_revision(request.form.get("revision", "")),
                                              new_category=request.form.get("new_category") == "1")
    except _REFUSALS as error:
        return _render_edit(product_id, form=request.form, **_refused(error)), status_for(error)
    forget_product(change.product_id)
    _keep_typed_labels()
    if change.changed:
        audit("product.updated", f"product:{change.product_id}", changes=change.changed)
        tell_subscribers_product_changed(change.product_id, sorted(change.changed))
    flash(gettext("Changes saved."), "success")
    return redirect(url_for("staff_products.edit", product_id=change.product_id), 303)


@bp.post("/<product_id>/stock")
@roles_required(Role.ADMIN)
def adjust_stock(product_id: str):
    try:
        delta, reason = parse_stock_adjustment(request.form.get("delta"), request.form.get("reason"))
        adjustment = catalog_service.adjust_stock(get_store(), product_id, delta, reason,
                                                  request.form.get("variant") or None)
    except _REFUSALS as error:
        return _render_edit(product_id, stock_error=translate_error(error)), status_for(error)
    forget_product(adjustment.product_id)
    variant = {"variant": adjustment.variant, "sku": adjustment.sku} if adjustment.variant else {}
    audit("stock.adjusted", f"product:{adjustment.product_id}", delta=adjustment.delta, before=adjustment.before,
          after=adjustment.after, reason=adjustment.reason, **variant)
    tell_subscribers_if_stock_fell_low(adjustment)
    flash(gettext("Stock changed from %(before)d to %(after)d.", before=adjustment.before, after=adjustment.after),
          "success")
    return redirect(url_for("staff_products.edit", product_id=adjustment.product_id), 303)


MAX_BULK = 100  # products one bulk action changes (a page of the list at most)


@bp.post("/bulk")
@roles_required(Role.ADMIN)
def bulk():
    """One action on the products ticked in the list: delete (archive those ever ordered), move to a
    category, or change the price by a percentage. Each product goes through the same checks and
    leaves the same audit entry and event as its own form; one refused does not stop the others."""
    ids, action = request.form.getlist("product_id")[:MAX_BULK], request.form.get("action", "")
    back = request.form.get("back") or url_for("staff_products.index")
    back = back if back.startswith("/admin/products/") else url_for("staff_products.index")
    if not ids or action not in ("delete", "category", "price"):
        flash(gettext("Tick the products and choose what to do with them."), "warning")
        return redirect(back, 303)
    try:
        percent = parse_percent_change(request.form.get("percent")) if action == "price" else None
    except InvalidInput as error:
        flash(translate_error(error), "danger")
        return redirect(back, 303)
    if action == "delete":
        asked = confirmation_page(
            ngettext("Delete %(num)d product?", "Delete %(num)d products?", len(ids)),
            gettext("Those never ordered are deleted for good; those ordered are archived: taken off sale, kept "
                    "for their orders."), gettext("Yes, delete them"), back)
        if asked is not None:
            return asked
    done, refused = 0, []
    for raw_id in ids:
        try:
            product_id = parse_product_id(raw_id)
            if action == "delete":
                outcome, before = catalog_service.delete_product(get_db(), get_store(), product_id)
                audit(f"product.{outcome}", f"product:{product_id}", before=before, bulk=True)
            else:
                change = catalog_service.edit_in_bulk(
                    get_db(), get_store(), product_id, percent=percent,
                    category=request.form.get("category", "") if action == "category" else None)
                if change.changed:
                    audit("product.updated", f"product:{product_id}", changes=change.changed, bulk=True)
                    tell_subscribers_product_changed(product_id, sorted(change.changed))
            forget_product(product_id)
            done += 1
        except (InvalidInput, Conflict, NotFound) as error:
            refused.append(translate_error(error))
    flash(ngettext("%(num)d product changed.", "%(num)d products changed.", done), "success" if done else "info")
    for reason in sorted(set(refused)):
        flash(reason, "warning")
    return redirect(back, 303)


@bp.post("/<product_id>/delete")
@roles_required(Role.ADMIN)
def delete(product_id: str):
    product_id = parse_product_id(product_id)  # the normalised id, for the log and the redirect
    asked = confirmation_page(gettext("Delete this product?"),
                              gettext("A product that was never ordered is deleted for good; one that was ordered "
                                      "is archived: taken off sale, kept for its orders."),
                              gettext("Yes, delete it"), url_for("staff_products.edit", product_id=product_id))
    if asked is not None:
        return asked
    outcome, before = catalog_service.delete_product(get_db(), get_store(), product_id)
    forget_product(product_id)
    audit(f"product.{outcome}", f"product:{product_id}", before=before)
    if outcome == "deleted":
        flash(gettext("Product deleted: no order referenced it."), "info")
        return redirect(url_for("staff_products.index"), 303)
    flash(gettext("Product archived: it is no longer sold, and the orders that reference it keep it."), "info")
    return redirect(url_for("staff_products.edit", product_id=product_id), 303)


@bp.post("/<product_id>/restore")
@roles_required(Role.ADMIN)
def restore(product_id: str):
    product_id = parse_product_id(product_id)
    catalog_service.restore_product(get_db(), get_store(), product_id)
    forget_product(product_id)
    audit("product.restored", f"product:{product_id}")
    flash(gettext("Product back on sale."), "success")
    return redirect(url_for("staff_products.edit", product_id=product_id), 303)
