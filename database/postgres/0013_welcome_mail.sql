-- A welcome mail when a new account is activated, through the same outbox as the order
-- mails: written in the transaction that activates the account, sent once.
ALTER TABLE mail_outbox ADD COLUMN user_id INTEGER REFERENCES users (user_id) ON DELETE CASCADE;

INSERT INTO schema_migrations (version, name) VALUES ('0013', '0013_welcome_mail.sql') ON CONFLICT (version) DO NOTHING;
