"""Shipping methods: staff see them; admins create them and switch them on and off."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput, NotFound
from shop.services import shipping as shipping_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db

bp = Blueprint("staff_shipping", __name__, url_prefix="/admin/shipping")


def _render(form: dict | None = None, error: str | None = None):
    return render_template("staff/shipping.html", methods=get_db().shipping.methods(),
                           form=form or {"countries": "ES"}, error=error)


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _render()


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    try:
        method_id = shipping_service.create_shipping_method(get_db(), request.form)
    except (InvalidInput, Conflict) as error:
        return _render(request.form.to_dict(), translate_error(error)), status_for(error)
    audit("shipping_method.created", f"shipping_method:{method_id}", name=request.form.get("name", "")[:60])
    flash(gettext("Shipping method created."), "success")
    return redirect(url_for("staff_shipping.index"), 303)


@bp.post("/<int:method_id>/active")
@roles_required(Role.ADMIN)
def set_active(method_id: int):
    active = request.form.get("active") == "1"
    try:
        method = shipping_service.set_shipping_method_active(get_db(), method_id, active)
    except NotFound as error:
        return _render(error=translate_error(error)), status_for(error)
    audit("shipping_method.activated" if active else "shipping_method.deactivated", f"shipping_method:{method_id}")
    flash(gettext("%(name)s is offered again.", name=method.name) if active else
          gettext("%(name)s is no longer offered.", name=method.name), "success")
    return redirect(url_for("staff_shipping.index"), 303)
