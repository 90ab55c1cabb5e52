-- Sessions that can be ended: a session is valid only while it carries its user's
-- current session_epoch. Logout, a password change, a role change and deactivation add one to it,
-- which ends every session of that user at once (docs/security.md).
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

-- Registration that does not reveal which addresses have accounts: a self-registered
-- account logs in only after its e-mail link is followed. Accounts made before, or by staff, count
-- as verified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT TRUE;

-- Unpaid-order limits: how many units an order asked for, and the client address
-- it came from, so the checkout can count what one account and one address hold unpaid.
ALTER TABLE orders ADD COLUMN units INTEGER NOT NULL DEFAULT 0 CHECK (units >= 0);
ALTER TABLE orders ADD COLUMN placed_from INET;
CREATE INDEX orders_unpaid_by_user ON orders (user_id) WHERE status IN ('placing', 'pending');
CREATE INDEX orders_unpaid_by_address ON orders (placed_from) WHERE status IN ('placing', 'pending');

-- Rate-limit counters (Flask-Limiter, fixed windows), shared by every worker and instance
-- (shop/adapters/postgres/rate_limits.py). UNLOGGED: fast, and a crash that
-- empties them only forgives a few attempts. Expired rows are removed by the recovery pass.
CREATE UNLOGGED TABLE rate_limit_counters (
    key        TEXT        PRIMARY KEY,
    count      INTEGER     NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_limit_counters_expiry ON rate_limit_counters (expires_at);

INSERT INTO schema_migrations (version, name) VALUES ('0005', '0005_sessions_and_limits.sql') ON CONFLICT (version) DO NOTHING;
