"""A small JSON API for programs: place an order with an Idempotency-Key header.

Authenticated by the session cookie like the pages, and protected by the same CSRF token (sent as
the X-CSRFToken header). Errors use the one JSON envelope of shop.web.errors.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.errors import N_, InvalidInput
from shop.services import checkout
from shop.web.access import roles_required
from shop.web.auditing import audit
from shop.web.extensions import get_db, get_settlements, get_store

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.post("/orders")
@roles_required(Role.CUSTOMER)
def place_order():
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput(N_('Send JSON like {"items": [{"product_id": "…", "quantity": 1}]}.'))
    lines = [(item.get("product_id"), item.get("quantity")) for item in items]
    result = checkout.place_order(
        get_db(), get_store(), current_user.user_id, lines, request.headers.get("Idempotency-Key", ""),
        lease_seconds=current_app.config["CHECKOUT_LEASE_SECONDS"],
        pending_ttl_minutes=current_app.config["PENDING_ORDER_TTL_MINUTES"],
        settlements=get_settlements(),
    )
    if result.created:
        audit("order.placed", f"order:{result.order_id}", total=str(result.total), lines=len(lines), via="api")
    body = {"order_id": result.order_id, "status": result.status.value, "total": str(result.total),
            "replayed": not result.created}
    return jsonify(body), 201 if result.created else 200
