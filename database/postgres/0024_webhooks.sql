-- Webhooks (docs/webhooks.md): endpoints an admin registers, the events the shop records in the
-- transaction of the change they report (so an event exists if and only if its change committed),
-- and one delivery per subscribed endpoint, sent at least once with retries for 24 hours.

CREATE TABLE IF NOT EXISTS webhook_endpoints (
    endpoint_id      SERIAL        PRIMARY KEY,
    url              VARCHAR(500)  NOT NULL,
    events           TEXT[]        NOT NULL CHECK (cardinality(events) > 0),
    secret           TEXT          NOT NULL,   -- encrypted under a key derived from SECRET_KEY
    active           BOOLEAN       NOT NULL DEFAULT TRUE,
    disabled_reason  VARCHAR(300),
    created_by       INTEGER       REFERENCES users (user_id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS webhook_events (
    event_id    UUID          PRIMARY KEY DEFAULT gen_random_uuid(),
    type        VARCHAR(40)   NOT NULL,
    payload     JSONB         NOT NULL,
    created_at  TIMESTAMPTZ   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    delivery_id      BIGSERIAL     PRIMARY KEY,
    event_id         UUID          NOT NULL REFERENCES webhook_events (event_id) ON DELETE CASCADE,
    endpoint_id      INTEGER       NOT NULL REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    status           VARCHAR(12)   NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER       NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
    last_status      INTEGER,
    last_error       VARCHAR(300),
    delivered_at     TIMESTAMPTZ,
    CONSTRAINT webhook_deliveries_once_per_endpoint UNIQUE (event_id, endpoint_id)
);
-- The sender's question, every few seconds: what is due now?
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

INSERT INTO schema_migrations (version, name) VALUES ('0024', '0024_webhooks.sql') ON CONFLICT (version) DO NOTHING;
