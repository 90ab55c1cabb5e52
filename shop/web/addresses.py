"""A customer's address book (Tu cuenta → Direcciones), and the address and method pickers that
checkout forms show when the shop ships (shop.services.shipping)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput
from shop.domain.shipping import EU_COUNTRIES, Address, ShippingMethod, parse_address
from shop.services import shipping as shipping_service
from shop.web.access import roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db

bp = Blueprint("addresses", __name__, url_prefix="/account/addresses")


@dataclass(frozen=True)
class ShippingOptions:
    """What a checkout form offers: the customer's addresses (default first) and the active methods."""

    addresses: list[tuple[int, Address, bool]]
    methods: list[ShippingMethod]


def shipping_options() -> ShippingOptions | None:
    """For the logged-in customer, when the shop ships anything (an active method); else None."""
    if not current_user.is_authenticated or current_user.role is not Role.CUSTOMER:
        return None
    methods = get_db().shipping.methods(active_only=True)
    if not methods:
        return None
    return ShippingOptions(get_db().shipping.addresses_of(current_user.user_id), methods)


def _render(form: dict | None = None, error: str | None = None):
    return render_template("account/addresses.html", addresses=get_db().shipping.addresses_of(current_user.user_id),
                           countries=EU_COUNTRIES, form=form or {"country": "ES"}, error=error)


@bp.get("/")
@roles_required(Role.CUSTOMER)
def index():
    return _render()


@bp.post("/")
@roles_required(Role.CUSTOMER)
def add():
    try:
        address = parse_address(request.form)
        address_id = shipping_service.add_address(get_db(), current_user.user_id, address,
                                                  request.form.get("make_default") == "1")
    except (InvalidInput, Conflict) as error:
        return _render(request.form.to_dict(), translate_error(error)), status_for(error)
    audit("address.added", f"address:{address_id}")
    flash(gettext("Address saved."), "success")
    return redirect(request.form.get("next") if request.form.get("next") in ("/cart/",) else url_for("addresses.index"),
                    303)


@bp.post("/<int:address_id>/default")
@roles_required(Role.CUSTOMER)
def make_default(address_id: int):
    shipping_service.make_default_address(get_db(), current_user.user_id, address_id)
    flash(gettext("That is now your default address."), "success")
    return redirect(url_for("addresses.index"), 303)


@bp.post("/<int:address_id>/delete")
@roles_required(Role.CUSTOMER)
def delete(address_id: int):
    shipping_service.delete_address(get_db(), current_user.user_id, address_id)
    audit("address.deleted", f"address:{address_id}")
    flash(gettext("Address deleted. Orders already placed keep the address they were sent to."), "success")
    return redirect(url_for("addresses.index"), 303)
