-- Staff lists at volume: every staff list is read newest first "after this row", so each
-- filter has an index in that order and a page reads per_page + 1 entries of it, whatever the depth.
-- (docs/catalog.md, "Staff lists").
CREATE INDEX orders_by_status ON orders (status, created_at DESC, order_id DESC);
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC, order_id DESC);
DROP INDEX orders_status_idx;              -- a prefix of orders_by_status
DROP INDEX orders_user_id_created_at_idx;  -- a prefix of orders_by_user
CREATE INDEX payments_by_status ON payments (status, created_at DESC, payment_id DESC);

-- The audit log's filter index: MongoDB's audit_logs stays the record (the hash chain); this is a
-- projection of the fields the viewer filters by, caught up from the chain by sequence number
-- (shop/services/staff_lists.py). A filtered page reads its sequence numbers here, newest first by
-- time (then seq), then the entries by seq from MongoDB. `audit_index_state` is how far the projection is contiguous, and that entry's
-- hash, so a restored or replaced log is noticed and the projection rebuilt.
CREATE TABLE audit_index (
    seq       BIGINT PRIMARY KEY CHECK (seq > 0),
    ts        TIMESTAMPTZ NOT NULL,
    actor_id  INTEGER,
    action    TEXT NOT NULL,
    target    TEXT
);
-- One index per filter, each in the list's order (time, then seq), so a filter with or without a
-- date range is one index range read in order.
CREATE INDEX audit_index_by_action ON audit_index (action, ts, seq);
CREATE INDEX audit_index_by_actor ON audit_index (actor_id, ts, seq) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_index_by_target ON audit_index (target, ts, seq) WHERE target IS NOT NULL;
CREATE INDEX audit_index_by_time ON audit_index (ts, seq);

CREATE TABLE audit_index_state (
    one_row   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one_row),
    through   BIGINT NOT NULL DEFAULT 0 CHECK (through >= 0),
    last_hash TEXT
);
INSERT INTO audit_index_state DEFAULT VALUES;

-- The dashboard's low-stock list: which products have the least stock, from the catalog
-- index, in order, instead of a read of every product in MongoDB. MongoDB stays the stock of record;
-- this copy is written when a product is created or rebuilt, and by the recovery pass for every
-- product whose stock changed (those are `marked` in MongoDB until recorded): docs/catalog.md.
-- The index is emptied so that the next start rebuilds it with the stock (ensure_catalog_index).
ALTER TABLE catalog_entries ADD COLUMN stock INTEGER CHECK (stock >= 0);
TRUNCATE catalog_entries, catalog_categories, catalog_facet_values, catalog_facet_keys, catalog_terms;
CREATE INDEX catalog_by_stock ON catalog_entries (stock, name_key, product_id) WHERE NOT archived;

INSERT INTO schema_migrations (version, name) VALUES ('0006', '0006_staff_lists.sql') ON CONFLICT (version) DO NOTHING;
