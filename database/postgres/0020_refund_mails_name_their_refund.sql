-- A refund's mail names the refund it is about, so it can say that refund's own amount (and the
-- total refunded up to it) however late it is written: two refunds of 10,00 each get a mail saying
-- 10,00, not two saying 20,00.
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS refund_id INTEGER REFERENCES refunds (refund_id) ON DELETE CASCADE;

INSERT INTO schema_migrations (version, name) VALUES ('0020', '0020_refund_mails_name_their_refund.sql') ON CONFLICT (version) DO NOTHING;
