"""Staff user management: list users, create staff accounts, change roles, (de)activate.

Password hashes never leave the database adapter. An admin cannot change their own account here,
and the shop always keeps one active admin (shop.services.accounts.change_account).
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.accounts import Role, parse_role
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.filters import parse_user_filter
from shop.domain.order_effects import MailKind
from shop.services import accounts, staff_lists
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.confirm import confirmation_page
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db

bp = Blueprint("staff_users", __name__, url_prefix="/admin/users")


def _render(form: dict | None = None, error: str | None = None):
    user_filter = parse_user_filter(request.args.to_dict(flat=False))
    return render_template("staff/users.html", listing=staff_lists.list_users(get_db(), user_filter),
                           role_filter=user_filter.role or "", email_filter=user_filter.email or "",
                           per_page=user_filter.per_page,
                           roles=[r.value for r in Role],
                           form=form or {"role": Role.CUSTOMER.value}, error=error)


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _render()


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    form = request.form
    try:
        user = accounts.create_user(get_db(), form.get("email", ""), form.get("full_name", ""),
                                    form.get("password", ""), parse_role(form.get("role", "")))
    except (InvalidInput, Conflict) as error:
        kept = {"email": form.get("email", ""), "full_name": form.get("full_name", ""), "role": form.get("role")}
        return _render(kept, translate_error(error)), status_for(error)
    audit("user.created", f"user:{user.user_id}", email=user.email, role=user.role.value)
    flash(gettext("Account created for %(email)s.", email=user.email), "success")
    return redirect(url_for("staff_users.index"), 303)


def _change(user_id: int, **change):
    try:
        before, after = accounts.change_account(get_db(), current_user.user, user_id, **change)
    except (Conflict, NotFound) as error:
        return _render(error=translate_error(error)), status_for(error)
    if before.role is not after.role:
        audit("user.role_changed", f"user:{user_id}", before=before.role.value, after=after.role.value)
    if before.is_active != after.is_active:
        audit("user.reactivated" if after.is_active else "user.deactivated", f"user:{user_id}")
    flash(gettext("Account of %(email)s updated.", email=after.email), "success")
    return redirect(url_for("staff_users.index"), 303)


@bp.post("/<int:user_id>/role")
@roles_required(Role.ADMIN)
def change_role(user_id: int):
    return _change(user_id, role=parse_role(request.form.get("role", "")))


@bp.post("/<int:user_id>/active")
@roles_required(Role.ADMIN)
def set_active(user_id: int):
    active = request.form.get("active")
    if active not in ("0", "1"):
        raise InvalidInput(N_("Choose to activate or deactivate the account."))
    if active == "0" and (asked := confirmation_page(
            gettext("Deactivate account %(user)d?", user=user_id),
            gettext("The person is logged out everywhere and cannot log in until an admin activates the account "
                    "again."), gettext("Yes, deactivate"), url_for("staff_users.index"))) is not None:
        return asked
    return _change(user_id, is_active=active == "1")


@bp.post("/<int:user_id>/password-reset")
@roles_required(Role.ADMIN)
def send_password_reset(user_id: int):
    """E-mail a user a link to set a new password, in the user's language (staff never see or
    choose it; it is signed when the outbox writes the mail)."""
    found = accounts.password_reset_claims(get_db(), user_id=user_id)
    if found is None:
        return _render(error=gettext("There is no active user with that number.")), 404
    accounts.queue_account_mail(get_db(), MailKind.PASSWORD_RESET, found[0], language=None)
    audit("password.reset_sent_by_staff", f"user:{user_id}")
    flash(gettext("A link to set a new password was sent to %(email)s.", email=found[0].email), "success")
    return redirect(url_for("staff_users.index"), 303)
