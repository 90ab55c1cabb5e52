-- Shipping follows the IVA of the goods it carries (SHIPPING_TAX_RULE, docs/money.md): an order
-- whose goods have several rates keeps its shipping's share at each rate. NULL: one rate, the one
-- in shipping_tax_rate (every order placed before this, and every order with goods at one rate).

ALTER TABLE orders
    ADD COLUMN IF NOT EXISTS shipping_taxes JSONB
        CHECK (shipping_taxes IS NULL OR jsonb_typeof(shipping_taxes) = 'array');

INSERT INTO schema_migrations (version, name)
VALUES ('0025', '0025_shipping_taxed_like_its_goods.sql') ON CONFLICT (version) DO NOTHING;
