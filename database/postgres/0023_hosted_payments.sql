-- Payments on the provider's own page (docs/payments.md): the shop never receives a card number.
-- Each attempt is a `payments` row started `pending` before the customer leaves for the provider,
-- named there by `provider_order`, and decided by the provider's signed notification. Money that
-- arrives for an order that can no longer take it is `orphaned` until it is refunded.

ALTER TABLE payments ADD COLUMN IF NOT EXISTS provider_order VARCHAR(32);
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_attempt_per_provider_order
    ON payments (method, provider_order) WHERE provider_order IS NOT NULL;
ALTER TABLE payments DROP CONSTRAINT IF EXISTS payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'succeeded', 'declined', 'refunded', 'orphaned'));
-- Reconciliation and the automatic refund of orphaned money read these.
CREATE INDEX IF NOT EXISTS payments_to_settle ON payments (status, created_at)
    WHERE status IN ('pending', 'orphaned');

INSERT INTO schema_migrations (version, name) VALUES ('0023', '0023_hosted_payments.sql') ON CONFLICT (version) DO NOTHING;
