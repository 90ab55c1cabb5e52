-- Refunds and returns (docs/money.md). An admin refunds a paid or shipped order, whole or
-- by line and units, with a reason. Money never exceeds what was paid: the order's row is locked
-- for the refund (concurrent clicks queue), and CHECKs make an over-refund impossible whatever the
-- code does (refunded_amount <= total_amount; per line refunded_quantity <= quantity). Units go back
-- to stock only when the admin says the goods came back, each refund's at most once (a marker per
-- refund on the product; finished by the recovery pass if interrupted).
-- 'partially_refunded' needs more than 16 characters; the triggers whose WHEN reads to_status are
-- set aside while the columns widen (PostgreSQL refuses to change a column a trigger condition uses).
DROP TRIGGER order_paid_invoice ON order_status_history;
DROP TRIGGER order_paid_sales ON order_status_history;
DROP TRIGGER order_discount_release ON order_status_history;
ALTER TABLE orders ALTER COLUMN status TYPE VARCHAR(20);
ALTER TABLE order_status_history ALTER COLUMN from_status TYPE VARCHAR(20), ALTER COLUMN to_status TYPE VARCHAR(20);
CREATE TRIGGER order_paid_invoice AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.to_status = 'paid') EXECUTE FUNCTION issue_invoice();
CREATE TRIGGER order_paid_sales AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.to_status = 'paid') EXECUTE FUNCTION count_paid_order();
CREATE TRIGGER order_discount_release AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.to_status IN ('failed', 'cancelled')) EXECUTE FUNCTION release_discount_use();

ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN
    ('placing', 'pending', 'paid', 'shipped', 'cancelled', 'failed', 'partially_refunded', 'refunded'));
ALTER TABLE orders ADD COLUMN refunded_amount NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    ADD CONSTRAINT orders_refunds_within_the_total CHECK (refunded_amount <= total_amount);
ALTER TABLE order_items ADD COLUMN refunded_quantity INTEGER NOT NULL DEFAULT 0 CHECK (refunded_quantity >= 0),
    ADD CONSTRAINT order_items_refunds_within_the_quantity CHECK (refunded_quantity <= quantity);

CREATE TABLE refunds (
    refund_id          SERIAL        PRIMARY KEY,
    order_id           INTEGER       NOT NULL REFERENCES orders (order_id),
    payment_id         INTEGER       REFERENCES payments (payment_id),
    amount             NUMERIC(12,2) NOT NULL CHECK (amount > 0),
    reason             VARCHAR(200)  NOT NULL CHECK (length(btrim(reason)) > 0),
    goods_returned     BOOLEAN       NOT NULL,
    stock_returned     BOOLEAN       NOT NULL DEFAULT FALSE,
    idempotency_key    UUID          NOT NULL UNIQUE,
    provider_reference VARCHAR(128),
    created_by         INTEGER       REFERENCES users (user_id),
    created_at         TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX refunds_by_order ON refunds (order_id, refund_id);
CREATE INDEX refunds_stock_to_return ON refunds (refund_id) WHERE goods_returned AND NOT stock_returned;

CREATE TABLE refund_lines (
    refund_id     INTEGER       NOT NULL REFERENCES refunds (refund_id),
    order_item_id INTEGER       NOT NULL REFERENCES order_items (order_item_id),
    quantity      INTEGER       NOT NULL CHECK (quantity > 0),
    amount        NUMERIC(12,2) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (refund_id, order_item_id)
);

-- The dashboard's daily totals take refunds off the day the order was placed (0010).
CREATE FUNCTION count_refund_line() RETURNS trigger AS $$
DECLARE
    placed_on DATE;
    product   CHAR(24);
BEGIN
    SELECT (o.created_at AT TIME ZONE 'UTC')::date, i.product_id INTO placed_on, product
    FROM order_items i JOIN orders o USING (order_id) WHERE i.order_item_id = NEW.order_item_id;
    UPDATE sales_daily SET revenue = revenue - NEW.amount WHERE day = placed_on;
    UPDATE product_sales_daily SET units = units - NEW.quantity, revenue = revenue - NEW.amount
    WHERE day = placed_on AND product_id = product;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER refund_line_sales AFTER INSERT ON refund_lines FOR EACH ROW EXECUTE FUNCTION count_refund_line();

-- The refund mail, with the order's other mails (0007).
CREATE OR REPLACE FUNCTION enqueue_order_mail() RETURNS trigger AS $$
DECLARE
    mail_kind TEXT;
BEGIN
    mail_kind := CASE
        WHEN NEW.from_status = 'placing' AND NEW.to_status = 'pending' THEN 'order.placed'
        WHEN NEW.to_status = 'paid' THEN 'order.paid'
        WHEN NEW.to_status = 'shipped' THEN 'order.shipped'
        WHEN NEW.to_status = 'cancelled' AND NEW.changed_by IS NULL AND NEW.reason LIKE 'expired%' THEN 'order.expired'
        WHEN NEW.to_status = 'cancelled' THEN 'order.cancelled'
        WHEN NEW.to_status IN ('partially_refunded', 'refunded') THEN 'order.refunded'
    END;
    IF mail_kind IS NOT NULL THEN
        INSERT INTO mail_outbox (kind, order_id, to_address, language)
        SELECT mail_kind, o.order_id, u.email, u.language
        FROM orders o JOIN users u USING (user_id) WHERE o.order_id = NEW.order_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

INSERT INTO schema_migrations (version, name) VALUES ('0011', '0011_refunds.sql') ON CONFLICT (version) DO NOTHING;
