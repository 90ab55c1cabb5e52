"""Webhooks (docs/webhooks.md): admins register endpoints — a URL, the events wanted, a signing
secret shown once — switch them on and off, and read the delivery log, where any delivery can be
sent again. Auditors see all of it and change nothing."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.adapters.webhook_sender import WebhookSender
from shop.domain.accounts import Role
from shop.domain.errors import N_, DomainError, NotFound
from shop.domain.webhooks import EVENTS
from shop.services import webhooks as webhook_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, shop_settings

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")


def webhook_sender() -> WebhookSender:
    return WebhookSender(shop_settings().webhook_allowed_hosts)


def secret_box() -> webhook_service.SecretBox:
    return webhook_service.SecretBox(current_app.config["SECRET_KEY"])


def _page(new_secret: str | None = None, error: str | None = None, status: int = 200):
    db = get_db()
    answer = render_template("staff/webhooks.html", endpoints=db.webhooks.endpoints(), events=EVENTS,
                             deliveries=db.webhooks.deliveries(), new_secret=new_secret, error=error,
                             form=request.form)
    return answer, status, {"Cache-Control": "no-store"}


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _page()


@bp.post("/")
@roles_required(Role.ADMIN)
def create():
    try:
        endpoint, secret = webhook_service.register_endpoint(
            get_db(), secret_box(), webhook_sender(), current_user.user_id, request.form.get("url"),
            request.form.getlist("events"), https_only=shop_settings().is_production)
    except DomainError as error:
        return _page(error=translate_error(error), status=status_for(error))
    audit("webhook.created", f"webhook:{endpoint.endpoint_id}", url=endpoint.url, events=list(endpoint.events))
    return _page(new_secret=secret, status=201)


@bp.post("/<int(max=2147483647):endpoint_id>/active")
@roles_required(Role.ADMIN)
def set_active(endpoint_id: int):
    active = request.form.get("active") == "1"
    if not get_db().webhooks.set_active(endpoint_id, active, "disabled by an admin"):
        raise NotFound(N_("That endpoint does not exist."))
    audit("webhook.enabled" if active else "webhook.disabled", f"webhook:{endpoint_id}")
    flash(gettext("The endpoint receives events again.") if active else
          gettext("The endpoint receives no more events."), "success")
    return redirect(url_for("webhooks.index"), 303)


@bp.post("/deliveries/<int(max=9223372036854775807):delivery_id>/redeliver")
@roles_required(Role.ADMIN)
def redeliver(delivery_id: int):
    if not get_db().webhooks.redeliver(delivery_id):
        raise NotFound(N_("That delivery does not exist."))
    audit("webhook.redelivered", f"webhook_delivery:{delivery_id}")
    flash(gettext("The delivery will be sent again in a few seconds."), "success")
    return redirect(url_for("webhooks.index"), 303)
