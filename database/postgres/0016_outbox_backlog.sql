-- The mail outbox's rows not sent yet, by status, for /metrics (shop_mail_outbox_rows) and the
-- operator: an index over exactly those rows, so counting them costs the backlog, not the years
-- of sent mail beside it.
CREATE INDEX IF NOT EXISTS mail_outbox_unsent ON mail_outbox (status, created_at) WHERE status <> 'sent';

INSERT INTO schema_migrations (version, name) VALUES ('0016', '0016_outbox_backlog.sql') ON CONFLICT (version) DO NOTHING;
