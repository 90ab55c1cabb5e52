"""A person's own account: name and language, and the password (a change ends every other session)."""

from __future__ import annotations

import dataclasses

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.errors import InvalidCredentials, InvalidInput
from shop.services import accounts
from shop.web.access import roles_required
from shop.web.auditing import audit
from shop.web.auth import login_limit, start_session
from shop.web.errors import translate_error
from shop.web.extensions import get_db, limiter
from shop.web.forms import AccountForm, PasswordChangeForm
from shop.web.languages import in_language

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.CUSTOMER, Role.ADMIN, Role.AUDITOR)
def profile():
    """The name the shop greets you by and the language of the shop and its e-mails."""
    user = current_user.user
    form = AccountForm(data={"full_name": user.full_name, "language": get_db().users.language_of(user.user_id)}
                       if request.method == "GET" else None)
    status = 200
    if form.validate_on_submit():
        try:
            updated = accounts.update_profile(get_db(), user, form.full_name.data, form.language.data)
        except InvalidInput as error:
            form.full_name.errors.append(translate_error(error))
            status = 400
        else:
            session["locale"] = form.language.data
            audit("account.updated", f"user:{user.user_id}", name=updated.full_name, language=form.language.data)
            flash(gettext("Your account is saved."), "success")
            return redirect(in_language(url_for("account.profile"), form.language.data), 303)
    elif request.method == "POST":
        status = 400
    return render_template("account/profile.html", form=form), status


@bp.route("/password", methods=["GET", "POST"])
@roles_required(Role.CUSTOMER, Role.ADMIN, Role.AUDITOR)
@limiter.limit(login_limit, methods=["POST"])  # guessing the current password is guessing a login
def password():
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = current_user.user
        try:
            epoch = accounts.change_password(get_db(), user, form.current.data, form.password.data)
        except InvalidCredentials as error:
            form.current.errors.append(translate_error(error))
            audit("password.change_refused", f"user:{user.user_id}")
            status = 400
        except InvalidInput as error:
            form.password.errors.append(translate_error(error))
            status = 400
        else:
            audit("password.changed", f"user:{user.user_id}")
            start_session(dataclasses.replace(user, session_epoch=epoch))
            flash(gettext("Your password has changed. Any other session of your account has ended."), "success")
            return redirect(url_for("catalog.index"))
    elif request.method == "POST":
        status = 400
    return render_template("auth/_new_password.html", form=form, heading=gettext("Change password")), status
