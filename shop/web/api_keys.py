"""A staff member's personal API keys (docs/api.md): create one with scopes and an expiry — its text
is shown once, on the page that created it —, see when each was last used, revoke it. Creation and
revocation are audited; so is every call made with a key (shop.web.api_v1.credentials)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.api_access import Scope
from shop.domain.errors import DomainError
from shop.services import api_access as api_access_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db

bp = Blueprint("api_keys", __name__, url_prefix="/account/api-keys")


def _page(new_key: str | None = None, error: str | None = None, status: int = 200):
    answer = render_template("account/api_keys.html", keys=get_db().api.keys_of(current_user.user_id),
                             scopes=list(Scope), new_key=new_key, error=error, form=request.form)
    # The new key's text is on this page only: never kept by a browser or a proxy.
    return answer, status, {"Cache-Control": "no-store"}


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _page()


@bp.post("/")
@roles_required(*STAFF)
def create():
    try:
        key, text = api_access_service.create_key(get_db(), current_user.user, request.form.get("name"),
                                                  request.form.getlist("scopes"), request.form.get("days"))
    except DomainError as error:
        return _page(error=translate_error(error), status=status_for(error))
    audit("api_key.created", f"api_key:{key.key_id}", name=key.name, scopes=sorted(s.value for s in key.scopes),
          expires_at=key.expires_at.isoformat() if key.expires_at else None)
    return _page(new_key=text, status=201)


@bp.post("/<int(max=2147483647):key_id>/revoke")
@roles_required(*STAFF)
def revoke(key_id: int):
    api_access_service.revoke_key(get_db(), current_user.user, key_id)
    audit("api_key.revoked", f"api_key:{key_id}")
    flash(gettext("The key was revoked; programs using it are refused from now on."), "success")
    return redirect(url_for("api_keys.index"), 303)
