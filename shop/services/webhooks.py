"""Webhook use cases: an admin registers an endpoint (its secret shown once), and the sender delivers
what is due, signed, retrying with backoff and jitter for 24 hours (the rules: shop.domain.webhooks).

Secrets are kept encrypted (Fernet, under a key derived from SECRET_KEY): the shop must read them to
sign, so a digest would not do, and a copy of the database alone does not reveal them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from shop.adapters.postgres import PostgresDatabase
from shop.adapters.postgres.webhooks import DueDelivery, Endpoint
from shop.adapters.webhook_sender import DeliveryFailed, WebhookSender
from shop.domain.errors import N_, InvalidInput
from shop.domain.webhooks import (
    SIGNATURE_HEADER,
    gives_up,
    parse_endpoint_url,
    parse_events,
    retry_delay,
    signature_header,
)

log = logging.getLogger(__name__)
LEASE_SECONDS = 60  # a delivery in flight is not taken again for this long (longer than its timeout)
BATCH = 50  # deliveries claimed per pass


class SecretBox:
    """Encrypts endpoint secrets at rest under a key derived from the shop's SECRET_KEY."""

    def __init__(self, secret_key: str):
        key = hashlib.sha256(f"webhook-secrets:{secret_key}".encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, sealed: str) -> bytes:
        try:
            return self._fernet.decrypt(sealed.encode())
        except InvalidToken:
            raise DeliveryFailed("the endpoint's secret cannot be read: SECRET_KEY changed since it was made; "
                                 "register the endpoint again") from None


def register_endpoint(db: PostgresDatabase, box: SecretBox, sender: WebhookSender, created_by: int,
                      raw_url: object, raw_events: object, *, https_only: bool) -> tuple[Endpoint, str]:
    """A new endpoint and its signing secret (returned once, kept encrypted). Its address must be one
    the shop may call now (it is checked again at every delivery)."""
    url = parse_endpoint_url(raw_url, https_only=https_only)
    events = parse_events(raw_events)
    try:
        sender.check(url)
    except DeliveryFailed as refused:
        raise InvalidInput(N_("The shop will not call that address: %(reason)s."), reason=str(refused)[:200]) \
            from None
    secret = "whsec_" + secrets.token_urlsafe(32)
    return db.webhooks.create_endpoint(url, events, box.seal(secret), created_by), secret


def body_of(delivery: DueDelivery) -> bytes:
    """What a receiver gets: the event's id (deduplicate by it), type, time and data."""
    return json.dumps({"id": delivery.event_id, "type": delivery.event_type,
                       "created_at": delivery.event_created_at.isoformat(), "data": delivery.payload},
                      separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    given_up: int = 0


def deliver_due(db: PostgresDatabase, sender: WebhookSender, box: SecretBox, *, limit: int = BATCH,
                rng: random.Random | None = None, clock: Callable[[], float] = time.time,
                parallel: int = 8) -> DeliveryReport:
    """One pass: claim what is due, post each (`parallel` at a time: one slow endpoint does not hold
    up the others), record the outcomes. A 2xx is delivered; anything else (another status, no
    answer, an address the shop may not call) is retried later, until the event is 24 hours old;
    then the delivery is given up and its endpoint disabled."""
    due = db.webhooks.claim_due(limit, LEASE_SECONDS)
    if not due:
        return DeliveryReport()

    def post(delivery: DueDelivery) -> tuple[int | None, str]:
        body = body_of(delivery)
        try:
            headers = {SIGNATURE_HEADER: signature_header(box.open(delivery.secret), int(clock()), body),
                       "Tienda-Event-Id": delivery.event_id, "Tienda-Event-Type": delivery.event_type}
            status = sender.post(delivery.url, body, headers).status
            return status, f"HTTP {status}"
        except DeliveryFailed as failure:
            return None, str(failure)

    with ThreadPoolExecutor(max_workers=min(parallel, len(due)), thread_name_prefix="webhook-post") as pool:
        outcomes = list(pool.map(post, due))
    delivered = retried = given_up = 0
    for delivery, (status, error) in zip(due, outcomes, strict=True):
        if status is not None and 200 <= status < 300:
            db.webhooks.delivered(delivery.delivery_id, status)
            delivered += 1
            continue
        age = (delivery.now - delivery.event_created_at).total_seconds()
        if gives_up(age):
            db.webhooks.give_up(delivery.delivery_id, status, error,
                                f"deliveries failed for 24 hours; the last one: {error}")
            log.warning("webhook delivery %s to %s given up: %s", delivery.delivery_id, delivery.url, error)
            given_up += 1
        else:
            db.webhooks.retry_later(delivery.delivery_id, retry_delay(delivery.attempts, rng), status, error)
            retried += 1
    return DeliveryReport(delivered, retried, given_up)


class WebhookLoop:
    """Delivers what is due every `interval` seconds until stopped (in the mail sender's process)."""

    def __init__(self, db_factory: Callable[[], PostgresDatabase], sender: WebhookSender, box: SecretBox,
                 interval: float = 2.0):
        self._db, self._sender, self._box, self._interval = db_factory, sender, box, interval
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        while not self._stopping.is_set():
            busy = False
            try:
                report = deliver_due(self._db(), self._sender, self._box)
                done = report.delivered + report.retried + report.given_up
                busy = done >= BATCH  # a full batch: more are probably due, go again at once
                if done:
                    log.info("webhooks: %s", report)
            except Exception:  # a database that does not answer: try again next time  # noqa: BLE001
                log.exception("webhook delivery pass failed")
            if not busy:
                self._stopping.wait(self._interval)
