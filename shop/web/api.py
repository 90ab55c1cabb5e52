"""The first JSON endpoint for programs, deprecated: place an order with an Idempotency-Key header.

Authenticated by the session cookie like the pages, and protected by the same CSRF token (sent as
the X-CSRFToken header). Errors use the older JSON envelope of shop.web.errors. It keeps working for
the programs that use it; its answers say it is deprecated and name its successor,
`POST /api/v1/checkout` (docs/api.md).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from shop.domain.accounts import Role
from shop.domain.errors import N_, InvalidInput
from shop.web.access import roles_required
from shop.web.orders import checkout_limit, place_for_current_user

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.after_request
def say_it_is_deprecated(response: Response) -> Response:
    """RFC 9745's Deprecation header and RFC 8288's successor link, on every answer (errors too)."""
    response.headers["Deprecation"] = "true"
    response.headers["Link"] = '</api/v1/checkout>; rel="successor-version"'
    return response


@bp.post("/orders")
@roles_required(Role.CUSTOMER)
@checkout_limit
def place_order():
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # JSON nested thousands deep: not an order, and not a 500 either
        body = None
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidInput(N_('Send JSON like {"items": [{"product_id": "…", "quantity": 1}]}.'))
    lines = [(item.get("product_id"), item.get("quantity")) for item in items]
    code = body.get("discount_code")
    if code is not None and not isinstance(code, str):
        raise InvalidInput(N_("A discount code is a text such as VERANO-10."))
    result = place_for_current_user(lines, request.headers.get("Idempotency-Key", ""), discount_code=code,
                                    address_id=body.get("address_id"),
                                    shipping_method_id=body.get("shipping_method_id"), via="api")
    body = {"order_id": result.order_id, "status": result.status.value, "total": str(result.total),
            "replayed": not result.created}
    return jsonify(body), 201 if result.created else 200
