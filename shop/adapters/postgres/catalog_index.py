"""The catalog index in PostgreSQL (`db.catalog`): a projection of MongoDB's `products` that decides
which products a catalog page shows, in which order, with the category menu and the filters
(docs/catalog.md). The parts live beside this one:

- catalog_reader.py: a page's reads, and the choice of access path (catalog_search.py: the search walk);
- catalog_projection.py: one product's entry, postings and counters, changed together;
- catalog_rebuild.py: the whole index again from MongoDB, in one transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from shop.adapters.postgres import catalog_projection, catalog_rebuild
from shop.adapters.postgres.catalog_reader import CatalogReader
from shop.adapters.postgres.errors import translates_errors
from shop.domain.listing import CatalogEntry, CatalogQuery, ListingIds


@translates_errors
class CatalogIndex:
    """The catalog's read model, in the shop's PostgreSQL database."""

    def __init__(self, db: Any):
        self._db = db

    # --- reading ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[CatalogReader]:
        """Every read of one page in one short read-only transaction (one connection, no extra round trips)."""
        with self._db.transaction() as cur:
            yield CatalogReader(cur)

    def page(self, query: CatalogQuery, *, archived: bool = False) -> ListingIds:
        """One page of a listing: which products, in which order, and how many (CatalogReader.page)."""
        with self.reading() as reader:
            return reader.page(query, archived=archived)

    def is_empty(self) -> bool:
        with self._db.transaction() as cur:
            cur.execute("SELECT NOT EXISTS (SELECT 1 FROM catalog_entries) AS empty")
            return cur.fetchone()["empty"]

    # --- writing: one product at a time, counters in the same transaction -------------------------

    def project(self, entry: CatalogEntry) -> bool:
        """Make the index show `entry`, unless it already shows that revision or a newer one (two
        projections of one product may arrive in any order; the older never wins)."""
        with self._db.transaction() as cur:
            return catalog_projection.project(cur, entry)

    def project_many(self, entries: list[CatalogEntry]) -> int:
        """Project several products in one transaction (catalog_projection.project_many)."""
        with self._db.transaction() as cur:
            return catalog_projection.project_many(cur, entries)

    def remove(self, product_id: str) -> None:
        """Forget a product deleted for good (and take it out of the counts)."""
        with self._db.transaction() as cur:
            catalog_projection.remove(cur, product_id)

    def record_stock(self, levels: list[tuple[str, int]]) -> set[str]:
        """Copy products' current stock (read from MongoDB by the recovery pass); returns the ids
        recorded (a product not in the index yet is not)."""
        if not levels:
            return set()
        with self._db.transaction() as cur:
            cur.execute(catalog_projection.RECORD_STOCK, ([pid for pid, _ in levels], [stock for _, stock in levels]))
            return {row["product_id"] for row in cur.fetchall()}

    def facets_of(self, product_ids: list[str]) -> dict[str, dict]:
        """The filter values the index holds for these products (point lookups on the primary key)."""
        if not product_ids:
            return {}
        with self._db.transaction() as cur:
            cur.execute("SELECT product_id, facets FROM catalog_entries WHERE product_id = ANY(%s::char(24)[])",
                        (product_ids,))
            return {row["product_id"]: row["facets"] or {} for row in cur.fetchall()}

    def low_stock(self, threshold: int, limit: int) -> list[str]:
        """Ids of products on sale with at most `threshold` units, fewest first, then by name (one
        index range read in order, stopping at `limit`)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT product_id FROM catalog_entries WHERE NOT archived AND stock <= %s
                           ORDER BY stock, name_key, product_id LIMIT %s""", (threshold, limit))
            return [row["product_id"] for row in cur.fetchall()]

    def count_low_stock(self, threshold: int, cap: int) -> int:
        """How many products on sale have at most `threshold` units, counting no further than `cap`
        (a bounded read of the same index, however many there are)."""
        with self._db.transaction() as cur:
            cur.execute("""SELECT count(*) AS n FROM (SELECT FROM catalog_entries WHERE NOT archived AND stock <= %s
                                                     LIMIT %s) AS low""", (threshold, cap))
            return cur.fetchone()["n"]

    def rebuild(self, entries: Iterable[CatalogEntry], batch_size: int = 5000) -> int:
        """Replace the whole index with `entries` and recount everything, in one transaction (readers
        see the old index until it commits). Returns how many entries were written."""
        return catalog_rebuild.rebuild(self._db, entries, batch_size)
