"""Where payment providers post the outcome of a payment (docs/payments.md): `/pagos/<provider>/notificacion`.

Public and without a CSRF token (the provider's server posts it, not a browser): what it says is
believed only if the provider's signature checks out. A forged one is refused (400) and audited.
A genuine one is applied once to its attempt (shop.services.orders.settle_notice), so the provider
may send it as often as it likes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from flask import Blueprint, Response, abort, request

from shop.domain.errors import NotFound
from shop.domain.payments import ForgedNotice, IgnoredNotice, Settlement
from shop.services import orders as order_service
from shop.services.ports import PaymentGateway
from shop.web.access import public
from shop.web.auditing import audit
from shop.web.extensions import csrf, get_db, get_payment_provider, shop_settings

bp = Blueprint("payments", __name__, url_prefix="/pagos")


@bp.post("/<provider>/notificacion")
@public
@csrf.exempt
def notify(provider: str):
    gateway = get_payment_provider()
    if provider != gateway.name:
        abort(404)
    with contextlib.suppress(IgnoredNotice):  # genuine, nothing to do: acknowledged, so the provider stops
        receive_notice(gateway, request.get_data(), request.form.to_dict(), dict(request.headers))
    return Response("OK\n", content_type="text/plain")


def receive_notice(gateway: PaymentGateway, body: bytes, form: Mapping[str, str],
                   headers: Mapping[str, str]) -> order_service.NoticeOutcome:
    """Check a provider's notification and apply it; everything it changes is audited."""
    try:
        notice = gateway.read_notice(body, form, headers)
    except ForgedNotice:
        audit("payment.forged_notice", f"provider:{gateway.name}", fields=sorted(form)[:10])
        raise
    try:
        outcome = order_service.settle_notice(get_db(), gateway, notice, shop_settings().payment_limits)
    except NotFound:
        audit("payment.unknown_notice", f"provider:{gateway.name}", provider_order=notice.provider_order)
        raise
    target = f"order:{outcome.order_id}"
    details = {"payment": outcome.payment_id, "amount": str(outcome.amount), "provider": gateway.name}
    if outcome.settlement is Settlement.PAID:
        audit("payment.succeeded", target, **details)
    elif outcome.settlement is Settlement.DECLINED:
        audit("payment.declined", target, reason=notice.decline_reason, **details)
        if outcome.pauses_paying:
            audit("payment.locked", target, minutes=shop_settings().payment_limits.window_minutes)
    elif outcome.settlement is Settlement.ORPHANED:
        # Money for an order that could not take it (expired, cancelled, already paid): given back.
        audit("payment.refunded_automatically" if outcome.refund_reference else "payment.orphaned", target,
              refund=outcome.refund_reference, **details)
    else:
        audit("payment.duplicate_notice", target, **details)
    return outcome
