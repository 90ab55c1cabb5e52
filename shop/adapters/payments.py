"""Payment providers. Only the simulated one exists; a real one implements the same `charge` and
`refund` (shop.services.ports.PaymentGateway) (a refund is idempotent by its key: asking twice refunds once).

Test cards of the simulated provider (documented in docs/checkout.md):
    4242 4242 4242 4242  → paid
    4000 0000 0000 0002  → declined: card declined
    4000 0000 0000 9995  → declined: insufficient funds
    any other valid (Luhn) number → paid
"""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from shop.domain.payments import ChargeResult, RefundResult

DECLINED_CARDS = {
    "4000000000000002": "card declined",
    "4000000000009995": "insufficient funds",
}


class SimulatedPaymentProvider:
    name = "simulated"

    def charge(self, amount: Decimal, card_number: str, reference: str) -> ChargeResult:
        reason = DECLINED_CARDS.get(card_number)
        if reason:
            return ChargeResult(succeeded=False, reference=None, decline_reason=reason)
        return ChargeResult(succeeded=True, reference=f"sim_{uuid.uuid4().hex[:16]}")

    def refund(self, payment_reference: str, amount: Decimal, idempotency_key: str) -> RefundResult:
        """The same key always names the same refund (as a real provider's idempotency key does)."""
        digest = hashlib.sha256(f"{payment_reference}:{idempotency_key}".encode()).hexdigest()[:16]
        return RefundResult(reference=f"sim_re_{digest}")
