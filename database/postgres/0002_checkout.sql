-- The checkout protocol (docs/checkout.md): an in-flight state, idempotency keys, expiry,
-- status history, carts, and the flag that says a cancelled order's stock went back.

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('placing', 'pending', 'paid', 'shipped', 'cancelled', 'failed'));
ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'placing';

ALTER TABLE orders
    -- One order per checkout attempt: a double click or a retried request finds this row.
    ADD COLUMN idempotency_key  UUID,
    -- What was asked for (hash of the cart lines): the same key with another cart is refused.
    ADD COLUMN request_hash     CHAR(64),
    -- While 'placing', the checkout that created the row owns it until this moment;
    -- after it, recovery may decide the order (abort) — never before.
    ADD COLUMN lease_until      TIMESTAMPTZ,
    -- A 'pending' order not paid by this moment is cancelled by recovery.
    ADD COLUMN expires_at       TIMESTAMPTZ,
    -- For cancelled orders: has the stock been returned to MongoDB? (recovery finishes it)
    ADD COLUMN stock_returned   BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN failure_reason   VARCHAR(200),
    ADD CONSTRAINT orders_one_order_per_idempotency_key UNIQUE (user_id, idempotency_key),
    ADD CONSTRAINT orders_placing_has_a_lease CHECK (status <> 'placing' OR lease_until IS NOT NULL);

CREATE INDEX orders_in_flight_idx ON orders (lease_until) WHERE status = 'placing';
CREATE INDEX orders_expiry_idx ON orders (expires_at) WHERE status = 'pending';
CREATE INDEX orders_stock_to_return_idx ON orders (order_id) WHERE status = 'cancelled' AND NOT stock_returned;

CREATE TABLE order_status_history (
    history_id  SERIAL PRIMARY KEY,
    order_id    INTEGER     NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    from_status VARCHAR(16),
    to_status   VARCHAR(16) NOT NULL,
    changed_by  INTEGER     REFERENCES users (user_id),  -- NULL: the system (checkout, recovery)
    reason      VARCHAR(200),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, history_id);

CREATE TABLE cart_items (
    user_id    INTEGER     NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    product_id CHAR(24)    NOT NULL CHECK (product_id ~ '^[0-9a-f]{24}$'),
    quantity   INTEGER     NOT NULL CHECK (quantity > 0 AND quantity <= 100),
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, product_id)
);

ALTER TABLE payments ADD COLUMN card_last4 CHAR(4);
ALTER TABLE payments ADD COLUMN decline_reason VARCHAR(200);

INSERT INTO schema_migrations (version, name) VALUES ('0002', '0002_checkout.sql') ON CONFLICT (version) DO NOTHING;
