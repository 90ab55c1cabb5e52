-- The staff consoles list all orders and payments newest first and aggregate the last 30 days
-- (dashboard): without these, each of those pages reads the whole table.
CREATE INDEX orders_created_at_idx ON orders (created_at DESC, order_id DESC);
CREATE INDEX payments_created_at_idx ON payments (created_at DESC, payment_id DESC);

INSERT INTO schema_migrations (version, name) VALUES ('0003', '0003_staff_views.sql') ON CONFLICT (version) DO NOTHING;
