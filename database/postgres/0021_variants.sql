-- Variants (shop/domain/variants.py, docs/catalog.md): a product sold in sizes or colours has one
-- variant per combination, each with its own SKU and stock in MongoDB. An order line keeps which
-- variant it sold (its key, SKU and option values, as they were), and a cart line which variant it
-- holds. '' is "a product without options" (its one default variant), so the keys stay NOT NULL.
ALTER TABLE order_items
    ADD COLUMN variant_key VARCHAR(5) NOT NULL DEFAULT '' CHECK (variant_key ~ '^(v[1-9][0-9]{0,3})?$'),
    ADD COLUMN sku VARCHAR(64),
    ADD COLUMN variant_label VARCHAR(300);
ALTER TABLE order_items DROP CONSTRAINT order_items_one_line_per_product,
    ADD CONSTRAINT order_items_one_line_per_variant UNIQUE (order_id, product_id, variant_key);

ALTER TABLE cart_items
    ADD COLUMN variant_key VARCHAR(5) NOT NULL DEFAULT '' CHECK (variant_key ~ '^(v[1-9][0-9]{0,3})?$');
ALTER TABLE cart_items DROP CONSTRAINT cart_items_pkey, ADD PRIMARY KEY (user_id, product_id, variant_key);

INSERT INTO schema_migrations (version, name) VALUES ('0021', '0021_variants.sql') ON CONFLICT (version) DO NOTHING;
