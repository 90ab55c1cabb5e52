"""Webhook endpoints, events and deliveries in PostgreSQL (`db.webhooks`;
database/postgres/0024_webhooks.sql). An order's events are written by the order's own transaction
(shop.adapters.postgres.order_effects); other events by `record_event`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from shop.adapters.postgres.errors import translates_errors
from shop.domain.json import JsonObject

# An order event and its deliveries, as statements the order's transaction runs (nothing is written
# when no active endpoint wants the event: a shop without webhooks pays nothing for them).
ORDER_EVENT = """
    WITH event AS (
        INSERT INTO webhook_events (type, payload)
        SELECT %(event)s, jsonb_build_object(
                   'order_id', o.order_id, 'status', o.status, 'customer_id', o.user_id,
                   'total', o.total_amount::text, 'refunded', o.refunded_amount::text, 'currency', 'EUR',
                   'refund_id', %(refund)s::int,
                   'items', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                 'product_id', i.product_id, 'sku', i.sku, 'name', i.product_name,
                                 'variant', i.variant_label, 'quantity', i.quantity,
                                 'unit_price', i.unit_price::text) ORDER BY i.order_item_id), '[]'::jsonb)
                             FROM order_items i WHERE i.order_id = o.order_id),
                   'carrier', o.carrier, 'tracking_number', o.tracking_number)
        FROM orders o
        WHERE o.order_id = %(order)s
          AND EXISTS (SELECT FROM webhook_endpoints w WHERE w.active AND %(event)s = ANY (w.events))
        RETURNING event_id, type)
    INSERT INTO webhook_deliveries (event_id, endpoint_id)
    SELECT e.event_id, w.endpoint_id FROM event e JOIN webhook_endpoints w ON w.active AND e.type = ANY (w.events)"""


@dataclass(frozen=True)
class Endpoint:
    endpoint_id: int
    url: str
    events: tuple[str, ...]
    active: bool
    disabled_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: int
    event_id: str
    event_type: str
    payload: JsonObject
    event_created_at: datetime
    endpoint_id: int
    url: str
    secret: str  # as stored: encrypted (shop.services.webhooks decrypts it)
    attempts: int  # this one included
    now: datetime


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: int
    event_id: str
    event_type: str
    url: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


def _endpoint(row: dict) -> Endpoint:
    return Endpoint(row["endpoint_id"], row["url"], tuple(row["events"]), row["active"], row["disabled_reason"],
                    row["created_at"])


@translates_errors
class Webhooks:
    def __init__(self, db):
        self._db = db

    # --- endpoints -----------------------------------------------------------------------------

    def create_endpoint(self, url: str, events: tuple[str, ...], secret: str, created_by: int) -> Endpoint:
        with self._db.transaction() as cur:
            cur.execute("""INSERT INTO webhook_endpoints (url, events, secret, created_by) VALUES (%s, %s, %s, %s)
                           RETURNING *""", (url, list(events), secret, created_by))
            return _endpoint(cur.fetchone())

    def endpoints(self) -> list[Endpoint]:
        with self._db.transaction() as cur:
            cur.execute("SELECT * FROM webhook_endpoints ORDER BY endpoint_id")
            return [_endpoint(row) for row in cur.fetchall()]

    def set_active(self, endpoint_id: int, active: bool, reason: str | None = None) -> bool:
        with self._db.transaction() as cur:
            cur.execute("UPDATE webhook_endpoints SET active = %s, disabled_reason = %s WHERE endpoint_id = %s",
                        (active, None if active else reason, endpoint_id))
            return cur.rowcount == 1

    # --- events that are not an order's --------------------------------------------------------

    def record_event(self, event_type: str, payload: JsonObject) -> int:
        """An event and a delivery for each active endpoint that wants it (none: nothing is written)."""
        with self._db.transaction() as cur:
            cur.execute("""WITH event AS (
                               INSERT INTO webhook_events (type, payload)
                               SELECT %(type)s, %(payload)s::jsonb
                               WHERE EXISTS (SELECT FROM webhook_endpoints w
                                             WHERE w.active AND %(type)s = ANY (w.events))
                               RETURNING event_id, type)
                           INSERT INTO webhook_deliveries (event_id, endpoint_id)
                           SELECT e.event_id, w.endpoint_id FROM event e
                           JOIN webhook_endpoints w ON w.active AND e.type = ANY (w.events)""",
                        {"type": event_type, "payload": json.dumps(payload)})
            return cur.rowcount

    # --- deliveries ----------------------------------------------------------------------------

    def claim_due(self, limit: int, lease_seconds: int) -> list[DueDelivery]:
        """Deliveries due now, each leased for `lease_seconds` (its next try is moved past the lease
        before it is sent): a sender killed mid-delivery leaves it to be sent again when the lease
        ends — at least once. Two senders never take the same delivery (SKIP LOCKED)."""
        with self._db.transaction() as cur:
            cur.execute("""
                WITH due AS (
                    SELECT d.delivery_id FROM webhook_deliveries d
                    JOIN webhook_endpoints w USING (endpoint_id)
                    WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND w.active
                    ORDER BY d.next_attempt_at LIMIT %s FOR UPDATE OF d SKIP LOCKED),
                claimed AS (
                    UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
                                                    next_attempt_at = now() + make_interval(secs => %s)
                    FROM due WHERE d.delivery_id = due.delivery_id
                    RETURNING d.delivery_id, d.event_id, d.endpoint_id, d.attempts)
                SELECT c.delivery_id, c.event_id::text AS event_id, e.type, e.payload, e.created_at, c.endpoint_id,
                       w.url, w.secret, c.attempts, now() AS now
                FROM claimed c JOIN webhook_events e USING (event_id) JOIN webhook_endpoints w USING (endpoint_id)
                ORDER BY c.delivery_id""", (limit, lease_seconds))
            return [DueDelivery(row["delivery_id"], row["event_id"], row["type"], row["payload"], row["created_at"],
                                row["endpoint_id"], row["url"], row["secret"], row["attempts"], row["now"])
                    for row in cur.fetchall()]

    def delivered(self, delivery_id: int, status: int) -> None:
        with self._db.transaction() as cur:
            cur.execute("""UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), last_status = %s,
                                  last_error = NULL WHERE delivery_id = %s""", (status, delivery_id))

    def retry_later(self, delivery_id: int, delay_seconds: float, status: int | None, error: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("""UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => %s),
                                  last_status = %s, last_error = %s WHERE delivery_id = %s AND status = 'pending'""",
                        (delay_seconds, status, error[:300], delivery_id))

    def give_up(self, delivery_id: int, status: int | None, error: str, disable_reason: str) -> None:
        """The delivery failed for good; its endpoint is disabled (until an admin enables it again)."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE webhook_deliveries SET status = 'failed', last_status = %s, last_error = %s
                           WHERE delivery_id = %s RETURNING endpoint_id""", (status, error[:300], delivery_id))
            row = cur.fetchone()
            if row is not None:
                cur.execute("""UPDATE webhook_endpoints SET active = FALSE, disabled_reason = %s
                               WHERE endpoint_id = %s AND active""", (disable_reason[:300], row["endpoint_id"]))

    def redeliver(self, delivery_id: int) -> bool:
        """Send a delivery again now, whatever happened to it (an admin's button)."""
        with self._db.transaction() as cur:
            cur.execute("""UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()
                           WHERE delivery_id = %s""", (delivery_id,))
            return cur.rowcount == 1

    def deliveries(self, limit: int = 50) -> list[DeliveryRow]:
        """The most recent deliveries, newest first (the delivery log page)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT d.delivery_id, d.event_id::text AS event_id, e.type, w.url, d.status, d.attempts,
                                  d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, e.created_at
                           FROM webhook_deliveries d JOIN webhook_events e USING (event_id)
                           JOIN webhook_endpoints w USING (endpoint_id)
                           ORDER BY d.delivery_id DESC LIMIT %s""", (limit,))
            return [DeliveryRow(row["delivery_id"], row["event_id"], row["type"], row["url"], row["status"],
                                row["attempts"], row["next_attempt_at"], row["last_status"], row["last_error"],
                                row["delivered_at"], row["created_at"]) for row in cur.fetchall()]
