-- Credentials for programs (shop.domain.api_access): customers' refresh tokens and staff API keys.
-- Only a SHA-256 digest of each secret is kept; the id is in the credential's text, so it is found by
-- primary key and compared in constant time.

CREATE TABLE IF NOT EXISTS api_refresh_tokens (
    token_id       BIGSERIAL    PRIMARY KEY,
    user_id        INTEGER      NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    digest         CHAR(64),                   -- NULL until the token's text is made (same transaction)
    session_epoch  INTEGER      NOT NULL,      -- the account's epoch when issued: logout ends it
    created_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at     TIMESTAMPTZ  NOT NULL,
    used_at        TIMESTAMPTZ                 -- a refresh token is used once
);
CREATE INDEX IF NOT EXISTS api_refresh_tokens_by_user ON api_refresh_tokens (user_id);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id        BIGSERIAL    PRIMARY KEY,
    user_id       INTEGER      NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name          VARCHAR(80)  NOT NULL CHECK (length(name) > 0),
    digest        CHAR(64),
    scopes        TEXT[]       NOT NULL CHECK (cardinality(scopes) > 0),
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    expires_at    TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS api_keys_by_user ON api_keys (user_id);

INSERT INTO schema_migrations (version, name) VALUES ('0022', '0022_api_credentials.sql') ON CONFLICT (version) DO NOTHING;
