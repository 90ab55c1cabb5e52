-- A discount code can be given to one customer: only that account may use it.
ALTER TABLE discount_codes ADD COLUMN user_id INTEGER REFERENCES users (user_id) ON DELETE CASCADE;

INSERT INTO schema_migrations (version, name) VALUES ('0015', '0015_personal_codes.sql') ON CONFLICT (version) DO NOTHING;
