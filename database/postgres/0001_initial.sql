-- Users, orders, order items and payments: the financial side of the shop.
-- Constraints do the guarding; the application never relies on being the only writer.
--
-- Each script in this directory is applied by the shop at start-up (`flask --app shop init-db`),
-- in order, once, and can equally be run by hand, in order, each in one transaction:
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 --single-transaction -f database/postgres/0001_initial.sql
-- Each records itself in schema_migrations, so the shop recognises a schema made either way.

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    VARCHAR(4) PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE users (
    user_id       SERIAL PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    full_name     VARCHAR(120) NOT NULL CHECK (length(btrim(full_name)) > 0),
    password_hash TEXT         NOT NULL,
    role          VARCHAR(16)  NOT NULL DEFAULT 'customer'
                  CHECK (role IN ('admin', 'customer', 'auditor')),
    is_active     BOOLEAN      NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ  NOT NULL DEFAULT now(),
    -- e-mails are compared case-insensitively: the application stores them lower-case
    CONSTRAINT users_email_is_lowercase CHECK (email = lower(email)),
    CONSTRAINT users_email_key UNIQUE (email)
);
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- The seed's data dictionary: order_id SERIAL, user_id FK, total_amount DECIMAL, status.
CREATE TABLE orders (
    order_id     SERIAL PRIMARY KEY,
    user_id      INTEGER       NOT NULL REFERENCES users (user_id),
    total_amount NUMERIC(12,2) NOT NULL CHECK (total_amount >= 0),
    status       VARCHAR(16)   NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled', 'failed')),
    created_at   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id_created_at_idx ON orders (user_id, created_at DESC);
CREATE INDEX orders_status_idx ON orders (status);
CREATE TRIGGER orders_set_updated_at BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Name and unit price are copied as sold: later catalog changes never rewrite history.
CREATE TABLE order_items (
    order_item_id SERIAL PRIMARY KEY,
    order_id      INTEGER       NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    product_id    CHAR(24)      NOT NULL CHECK (product_id ~ '^[0-9a-f]{24}$'),
    product_name  VARCHAR(200)  NOT NULL,
    unit_price    NUMERIC(12,2) NOT NULL CHECK (unit_price >= 0),
    quantity      INTEGER       NOT NULL CHECK (quantity > 0),
    CONSTRAINT order_items_one_line_per_product UNIQUE (order_id, product_id)
);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);

CREATE TABLE payments (
    payment_id         SERIAL PRIMARY KEY,
    order_id           INTEGER       NOT NULL REFERENCES orders (order_id),
    amount             NUMERIC(12,2) NOT NULL CHECK (amount > 0),
    status             VARCHAR(16)   NOT NULL
                       CHECK (status IN ('pending', 'succeeded', 'declined', 'refunded')),
    method             VARCHAR(32)   NOT NULL,
    provider_reference VARCHAR(128),
    created_at         TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ   NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_id_idx ON payments (order_id);
-- An order is paid at most once, whatever the application does.
CREATE UNIQUE INDEX payments_one_success_per_order ON payments (order_id) WHERE status = 'succeeded';
CREATE TRIGGER payments_set_updated_at BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

INSERT INTO schema_migrations (version, name) VALUES ('0001', '0001_initial.sql') ON CONFLICT (version) DO NOTHING;
