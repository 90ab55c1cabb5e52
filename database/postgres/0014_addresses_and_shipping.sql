-- Addresses and shipping (docs/money.md). A customer keeps an address book with one
-- default; admins keep shipping methods (price with IVA, free above an amount, countries, on/off).
-- When any method is active, checkout asks for an address and a method, and the order keeps a
-- snapshot of both as chosen: editing the address book or the method later never changes a placed
-- order. Shipping is one more taxed amount (general rate) in the order's total.
CREATE TABLE addresses (
    address_id  SERIAL       PRIMARY KEY,
    user_id     INTEGER      NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    full_name   VARCHAR(120) NOT NULL CHECK (length(btrim(full_name)) > 0),
    street      VARCHAR(200) NOT NULL CHECK (length(btrim(street)) > 0),
    postal_code VARCHAR(10)  NOT NULL,
    city        VARCHAR(80)  NOT NULL CHECK (length(btrim(city)) > 0),
    province    VARCHAR(80)  NOT NULL DEFAULT '',
    country     CHAR(2)      NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    phone       VARCHAR(20)  NOT NULL,
    is_default  BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX addresses_of_user ON addresses (user_id, address_id);
CREATE UNIQUE INDEX addresses_one_default ON addresses (user_id) WHERE is_default;

CREATE TABLE shipping_methods (
    method_id  SERIAL        PRIMARY KEY,
    name       VARCHAR(60)   NOT NULL UNIQUE CHECK (length(btrim(name)) > 0),
    price      NUMERIC(12,2) NOT NULL CHECK (price >= 0),
    free_above NUMERIC(12,2) CHECK (free_above > 0),
    countries  CHAR(2)[]     NOT NULL DEFAULT '{ES}',
    active     BOOLEAN       NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ   NOT NULL DEFAULT now()
);

ALTER TABLE orders
    ADD COLUMN shipping_address JSONB,
    ADD COLUMN shipping_method  VARCHAR(60),
    ADD COLUMN shipping_amount  NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (shipping_amount >= 0),
    ADD COLUMN shipping_tax     NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (shipping_tax >= 0),
    ADD COLUMN shipping_tax_rate NUMERIC(5,2) CHECK (shipping_tax_rate >= 0 AND shipping_tax_rate <= 100),
    ADD COLUMN shipping_refunded BOOLEAN NOT NULL DEFAULT FALSE;

INSERT INTO schema_migrations (version, name) VALUES ('0014', '0014_addresses_and_shipping.sql') ON CONFLICT (version) DO NOTHING;
