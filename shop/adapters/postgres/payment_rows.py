"""A `payments` row as the domain's Payment (the one place its status becomes an enum)."""

from __future__ import annotations

from shop.domain.orders import Payment, PaymentStatus


def payment_of(row: dict) -> Payment:
    return Payment(payment_id=row["payment_id"], amount=row["amount"], status=PaymentStatus(row["status"]),
                   method=row["method"], created_at=row["created_at"], provider_reference=row["provider_reference"],
                   card_last4=row["card_last4"], decline_reason=row["decline_reason"],
                   provider_order=row["provider_order"], order_id=row["order_id"])
