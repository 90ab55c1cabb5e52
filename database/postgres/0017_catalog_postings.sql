-- Search words in name order (docs/catalog.md, "Search"): one row per word of each product on sale,
-- keyed by the word and then by the product's place in the name order. A search whose words many
-- products share reads, for each word it can mean (a typed prefix can mean several), the entries
-- after the page's position in order, merged: a page costs the words' count, not their products'.
-- Kept with catalog_entries in the same transaction (shop/adapters/postgres/catalog_index.py).
CREATE TABLE IF NOT EXISTS catalog_postings (
    term       TEXT     COLLATE "C" NOT NULL,
    name_key   TEXT     COLLATE "C" NOT NULL,
    product_id CHAR(24) NOT NULL,
    CONSTRAINT catalog_postings_pkey PRIMARY KEY (term, name_key, product_id)
);

INSERT INTO catalog_postings (term, name_key, product_id)
SELECT term, name_key, product_id FROM catalog_entries, unnest(tsvector_to_array(words)) AS term
WHERE NOT archived
ON CONFLICT DO NOTHING;

INSERT INTO schema_migrations (version, name) VALUES ('0017', '0017_catalog_postings.sql') ON CONFLICT (version) DO NOTHING;
