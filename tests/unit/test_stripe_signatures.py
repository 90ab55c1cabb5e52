"""Stripe's webhook signature (`Stripe-Signature: t=…,v1=…`) as the shop checks it: HMAC-SHA256 of
"t.body" under the endpoint's secret, any of several v1 values, and a timestamp within the tolerance."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shop.adapters.stripe import verify_signature

SECRET, BODY, NOW = "whsec_test", b'{"type":"checkout.session.completed"}', 1_800_000_000


def _v1(timestamp: int, body: bytes = BODY, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_a_signature_made_with_the_endpoints_secret_within_the_tolerance_is_accepted():
    assert verify_signature(SECRET, f"t={NOW - 299},v1={_v1(NOW - 299)}", BODY, NOW)


def test_one_matching_v1_among_several_is_enough_while_the_secret_is_being_rolled():
    header = f"t={NOW},v1={_v1(NOW, secret='whsec_old')},v1={_v1(NOW)},v0=ignored"
    assert verify_signature(SECRET, header, BODY, NOW)


@pytest.mark.parametrize("header", [
    f"t={NOW - 301},v1={_v1(NOW - 301)}",  # too old: a replay
    f"t={NOW + 301},v1={_v1(NOW + 301)}",  # from the future
    f"t={NOW},v1={_v1(NOW, body=b'{}')}",  # another body
    f"t={NOW},v1={_v1(NOW, secret='whsec_other')}",  # another secret
    f"v1={_v1(NOW)}",  # no timestamp
    f"t={NOW}",  # no signature
    "",
])
def test_anything_else_is_refused(header):
    assert not verify_signature(SECRET, header, BODY, NOW)
