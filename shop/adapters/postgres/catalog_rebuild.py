"""Rebuilding the whole catalog index from MongoDB's products, in one transaction: readers see the old
index until it commits. Entries are copied in (COPY, in batches) and every counter is recounted from
them; the postings' key is added after they are filled (several times faster than keeping it)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from itertools import islice
from typing import Any

from shop.domain.listing import CatalogEntry


def rebuild(db: Any, entries: Iterable[CatalogEntry], batch_size: int = 5000) -> int:
    """Replace the whole index with `entries` and recount everything; returns how many entries were
    written. `db` is the PostgresDatabase (the VACUUM after the commit needs its own connection)."""
    written = 0
    iterator = iter(entries)
    with db.transaction() as cur:
        cur.execute("TRUNCATE catalog_entries, catalog_categories, catalog_facet_values, catalog_facet_keys, "
                    "catalog_terms, catalog_postings")
        # Filled first and indexed after (several times faster than keeping the index while inserting).
        cur.execute("ALTER TABLE catalog_postings DROP CONSTRAINT catalog_postings_pkey")
        while batch := list(islice(iterator, batch_size)):
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for e in batch:
                words = " ".join(f"'{w}'" for w in e.words)  # tsvector text: letters and digits, quoted
                writer.writerow([e.product_id, e.revision, e.category, e.name_key, e.price,
                                 "t" if e.archived else "f", json.dumps(e.facets), words, e.stock])
            buffer.seek(0)
            cur.copy_expert("COPY catalog_entries (product_id, revision, category, name_key, price, archived, "
                            "facets, words, stock) FROM STDIN WITH (FORMAT csv)", buffer)
            written += len(batch)
        cur.execute(f"INSERT INTO catalog_categories (category, products) {_RECOUNT_CATEGORIES}")  # noqa: S608
        cur.execute(f"INSERT INTO catalog_facet_values (category, attr_key, value, products) {_RECOUNT_VALUES}")  # noqa: S608  # constant fragments
        cur.execute("""INSERT INTO catalog_facet_keys (category, attr_key, distinct_values)
                       SELECT category, attr_key, count(*) FROM catalog_facet_values GROUP BY 1, 2""")
        cur.execute(f"INSERT INTO catalog_terms (term, products) {_RECOUNT_TERMS}")  # noqa: S608
        cur.execute(f"INSERT INTO catalog_postings (term, name_key, product_id) {_ALL_POSTINGS}")  # noqa: S608
        cur.execute("ALTER TABLE catalog_postings ADD CONSTRAINT catalog_postings_pkey "
                    "PRIMARY KEY (term, name_key, product_id)")
    # Outside the transaction: VACUUM sets the visibility map, without which no scan is index-only.
    db.vacuum_analyze("catalog_entries")
    db.vacuum_analyze("catalog_postings")
    return written


_RECOUNT_TERMS = """SELECT term, count(*) FROM catalog_entries, unnest(tsvector_to_array(words)) AS term
                    WHERE NOT archived GROUP BY term"""
_ALL_POSTINGS = """SELECT term, name_key, product_id FROM catalog_entries, unnest(tsvector_to_array(words)) AS term
                   WHERE NOT archived"""
_RECOUNT_CATEGORIES = "SELECT category, count(*) FROM catalog_entries WHERE NOT archived GROUP BY category"
_RECOUNT_VALUES = """SELECT category, kv.key, kv.value, count(*)
                     FROM catalog_entries, jsonb_each(facets) AS kv
                     WHERE NOT archived AND jsonb_typeof(kv.value) IN ('string', 'number', 'boolean')
                     GROUP BY 1, 2, 3"""

