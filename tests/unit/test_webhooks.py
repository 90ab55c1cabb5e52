"""Webhook rules: signatures a receiver can check, the retry schedule, and the addresses the shop calls."""

from __future__ import annotations

import random

import pytest

from shop.adapters.webhook_sender import DeliveryFailed, WebhookSender
from shop.domain.errors import InvalidInput
from shop.domain.webhooks import (
    address_allowed,
    falls_to_low_stock,
    gives_up,
    parse_endpoint_url,
    parse_events,
    retry_delay,
    signature_header,
    verify,
)

SECRET = b"whsec_test"


def test_a_receiver_accepts_the_signature_within_the_replay_window_and_nothing_else():
    body = b'{"id":"e1","type":"order.paid"}'
    header = signature_header(SECRET, 1_700_000_000, body)
    assert verify(SECRET, header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body + b" ", now=1_700_000_100)  # another body
    assert not verify(b"another secret", header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body, now=1_700_000_000 + 301)  # replayed later than 5 minutes
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000100"), body, now=1_700_000_100)
    assert not verify(SECRET, "v1=abc", body, now=1_700_000_100)


def test_retries_back_off_exponentially_with_jitter_up_to_three_hours():
    rng = random.Random(7)
    for attempts, base in ((1, 30), (2, 60), (3, 120), (8, 3840), (20, 3 * 3600)):
        delays = [retry_delay(attempts, rng) for _ in range(200)]
        assert base * 0.5 <= min(delays) and max(delays) <= base * 1.5
        assert max(delays) - min(delays) > base * 0.5  # spread: endpoints that failed together drift apart
    assert not gives_up(23.9 * 3600) and gives_up(24 * 3600)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.10", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1",
                                     "224.0.0.1", "not an address"])
def test_private_loopback_link_local_and_metadata_addresses_are_never_called(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_called(address):
    assert address_allowed(address)


def test_a_name_that_resolves_to_a_private_address_is_refused_unless_the_host_is_allowed():
    def resolver(host, port):
        return {"erp.example.com": ["93.184.216.34"], "rebound.example.com": ["93.184.216.34", "127.0.0.1"],
                "localhost": ["127.0.0.1"]}[host]

    sender = WebhookSender(resolver=resolver)
    assert sender.check("https://erp.example.com/hooks") == "93.184.216.34"
    with pytest.raises(DeliveryFailed, match="127.0.0.1"):
        sender.check("https://rebound.example.com/hooks")  # any one private address is enough to refuse
    with pytest.raises(DeliveryFailed):
        sender.check("http://localhost:8080/hooks")
    assert WebhookSender(allowed_hosts=("localhost",), resolver=resolver).check("http://localhost:8080/") == "127.0.0.1"


@pytest.mark.parametrize("raw", ["ftp://x.example/", "https://", "https://user:pw@x.example/", "x.example/hook",
                                 "https://x.example/a b", "https://x.example:99999/", None, "https://" + "a" * 500])
def test_an_endpoint_address_must_be_a_plain_http_url(raw):
    with pytest.raises(InvalidInput):
        parse_endpoint_url(raw, https_only=False)


def test_production_endpoints_use_https_and_events_are_from_the_list():
    with pytest.raises(InvalidInput):
        parse_endpoint_url("http://erp.example.com/h", https_only=True)
    assert parse_endpoint_url(" https://erp.example.com/h ", https_only=True) == "https://erp.example.com/h"
    assert parse_events(["order.paid", "order.placed"]) == ("order.placed", "order.paid")
    for bad in ([], ["order.deleted"], "order.paid", [1]):
        with pytest.raises(InvalidInput):
            parse_events(bad)


@pytest.mark.parametrize("before, after, sent", [
    (7, 6, False),  # still above the threshold
    (6, 5, True),  # falls to it: low from now on
    (9, 0, True),  # falls past it in one sale
    (5, 4, False),  # already low: said once already
    (3, 8, False),  # a restock is not a fall
])
def test_stock_low_is_sent_once_when_the_stock_falls_to_the_threshold(before, after, sent):
    assert falls_to_low_stock(before, after, threshold=5) is sent
