-- "Mark shipped" records the carrier and the tracking number; the customer sees them on
-- the order and in the shipped mail. Orders shipped before this version have neither.
ALTER TABLE orders
    ADD COLUMN carrier         VARCHAR(60),
    ADD COLUMN tracking_number VARCHAR(60),
    ADD COLUMN shipped_at      TIMESTAMPTZ,
    ADD CONSTRAINT orders_tracking_with_its_carrier CHECK ((carrier IS NULL) = (tracking_number IS NULL));

INSERT INTO schema_migrations (version, name) VALUES ('0012', '0012_shipping_tracking.sql') ON CONFLICT (version) DO NOTHING;
