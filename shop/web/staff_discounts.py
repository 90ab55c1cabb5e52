"""Discount codes: staff see them and how many uses orders hold; admins create and (de)activate them."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from shop.domain.accounts import Role
from shop.domain.discounts import customer_email_of, parse_discount_form
from shop.domain.errors import Conflict, InvalidInput, NotFound
from shop.services import discounts as discount_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db

bp = Blueprint("staff_discounts", __name__, url_prefix="/admin/discounts")


def _render(form: dict | None = None, error: str | None = None):
    return render_template("staff/discounts.html", codes=get_db().discounts.all(), form=form or {"kind": "percent"},
                           error=error)


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _render()


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    try:
        discount = parse_discount_form(request.form)
        discount_service.create_discount_code(get_db(), discount, customer_email_of(request.form))
    except (InvalidInput, Conflict) as error:
        return _render(request.form.to_dict(), translate_error(error)), status_for(error)
    audit("discount.created", f"discount:{discount.code}", kind=discount.kind, value=str(discount.value),
          max_uses=discount.max_uses, per_customer=discount.max_uses_per_customer,
          categories=list(discount.categories))
    flash(gettext("Code %(code)s created.", code=discount.code), "success")
    return redirect(url_for("staff_discounts.index"), 303)


@bp.post("/<code>/active")
@roles_required(Role.ADMIN)
def set_active(code: str):
    active = request.form.get("active") == "1"
    try:
        code = discount_service.set_discount_code_active(get_db(), code, active)
    except (InvalidInput, NotFound) as error:
        return _render(error=translate_error(error)), status_for(error)
    audit("discount.activated" if active else "discount.deactivated", f"discount:{code}")
    flash(gettext("Code %(code)s activated.", code=code) if active else
          gettext("Code %(code)s deactivated: no new order can use it.", code=code), "success")
    return redirect(url_for("staff_discounts.index"), 303)
