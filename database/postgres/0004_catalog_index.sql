-- The catalog's read model (docs/catalog.md): which products a catalog page shows and in which
-- order, the category menu and the attribute filters. MongoDB stays the catalog of record (names,
-- prices, stock, attributes); these tables are a projection of it, kept up to date with every
-- product write and rebuilt from MongoDB by `flask --app shop catalog-rebuild`. A page picks its
-- product ids here through an index that is read in order and stops at the page's end, then reads
-- the documents from MongoDB by _id.

CREATE TABLE catalog_entries (
    product_id  CHAR(24) PRIMARY KEY,
    revision    BIGINT   NOT NULL,               -- products.revision when projected: never goes back
    category    TEXT     NOT NULL,
    name_key    TEXT     COLLATE "C" NOT NULL,   -- folded name (case, accents): the name order
    price       NUMERIC(12, 2) NOT NULL,
    archived    BOOLEAN  NOT NULL,
    facets      JSONB    NOT NULL,               -- top-level scalar attributes (and lists of them)
    words       TSVECTOR NOT NULL                -- folded words of the name and the category
);

-- One index per listing order, each ending in product_id so that keyset paging is exact.
-- The name orders carry the search words and the filters (INCLUDE), so that a filtered walk in
-- name order is an index-only scan (docs/catalog.md).
CREATE INDEX catalog_by_name ON catalog_entries (name_key, product_id) INCLUDE (words) WHERE NOT archived;
CREATE INDEX catalog_by_price ON catalog_entries (price, product_id) WHERE NOT archived;
CREATE INDEX catalog_by_category_name ON catalog_entries (category, name_key, product_id) INCLUDE (words, facets)
    WHERE NOT archived;
CREATE INDEX catalog_by_category_price ON catalog_entries (category, price, product_id) WHERE NOT archived;
CREATE INDEX catalog_archived_by_name ON catalog_entries (name_key, product_id) WHERE archived;
CREATE INDEX catalog_words ON catalog_entries USING GIN (words);
CREATE INDEX catalog_facets ON catalog_entries USING GIN (facets jsonb_path_ops);

-- Products on sale per category (the category menu).
CREATE TABLE catalog_categories (
    category TEXT PRIMARY KEY,
    products INTEGER NOT NULL CHECK (products >= 0)
);

-- Products on sale per category, attribute and value (the filters), and how many distinct values
-- each attribute has in a category (an attribute is offered as a filter when it has 2 to 15).
CREATE TABLE catalog_facet_values (
    category TEXT    NOT NULL,
    attr_key TEXT    NOT NULL,
    value    JSONB   NOT NULL,
    products INTEGER NOT NULL CHECK (products >= 0),
    PRIMARY KEY (category, attr_key, value)
);

CREATE TABLE catalog_facet_keys (
    category        TEXT    NOT NULL,
    attr_key        TEXT    NOT NULL,
    distinct_values INTEGER NOT NULL CHECK (distinct_values >= 0),
    PRIMARY KEY (category, attr_key)
);
CREATE INDEX catalog_facet_keys_offered ON catalog_facet_keys (category, distinct_values);

-- Products on sale per search word: how many products a search can match, known before searching
-- (a word nobody has costs nothing; a rare one is looked up, a common one walked; docs/catalog.md).
CREATE TABLE catalog_terms (
    term     TEXT COLLATE "C" PRIMARY KEY,
    products INTEGER NOT NULL CHECK (products >= 0)
);

INSERT INTO schema_migrations (version, name) VALUES ('0004', '0004_catalog_index.sql') ON CONFLICT (version) DO NOTHING;
