"""Keeping the catalog index in step with one product, in PostgreSQL: its entry, its search postings
and the counters beside them (categories, filter values, search terms), all changed in the
transaction that changes the entry. Counter rows are locked in one fixed order, so concurrent
projections never deadlock; two projections of one product are serialized by an advisory lock.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from shop.domain.listing import CatalogEntry, counted_facets

_LOCK_NAMESPACE = 7_201_004  # serializes the projections of one product (pg_advisory_xact_lock)

# Product ids travel as char(24)[], the column's own type: compared with text[] the column would be
# cast to text and its primary key unusable (a scan of every entry: half a second at a million).
RECORD_STOCK = """UPDATE catalog_entries e SET stock = l.stock
                  FROM unnest(%s::char(24)[], %s::int[]) AS l (product_id, stock)
                  WHERE e.product_id = l.product_id RETURNING e.product_id"""

Contribution = tuple[str, list[tuple[str, object]], list[str]]


def json_key(value: object) -> str:
    """A filter value as the counters compare it."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def project(cur: Any, entry: CatalogEntry) -> bool:
    """Make the index show `entry`, unless it already shows that revision or a newer one (two
    projections of one product may arrive in any order; the older never wins)."""
    return project_many(cur, [entry]) == 1


def project_many(cur: Any, entries: list[CatalogEntry]) -> int:
    """Make the index show each of `entries` (as `project`), in one transaction; returns how many
    changed. The products' locks are taken in id order and the counters of all of them are changed
    together, each counter row once and all in one fixed order: so a batch (an import's) costs one
    counter update per category, value and word rather than one per product, and two batches, or a
    batch and a single product, never deadlock."""
    entries = sorted({entry.product_id: entry for entry in entries}.values(), key=lambda e: e.product_id)
    if not entries:
        return 0
    for entry in entries:
        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, entry.product_id))
    cur.execute("SELECT product_id, revision, category, archived, facets, name_key, "
                "array_to_string(tsvector_to_array(words), ' ') AS words "
                "FROM catalog_entries WHERE product_id = ANY(%s::char(24)[])", ([e.product_id for e in entries],))
    olds = {row["product_id"]: row for row in cur.fetchall()}
    newer = [e for e in entries if e.product_id not in olds or olds[e.product_id]["revision"] < e.revision]
    if not newer:
        return 0
    _change_counts(cur, removed=[_contribution(olds.get(e.product_id)) for e in newer],
                   added=[_contribution(e) for e in newer])
    for entry in newer:
        _move_postings(cur, entry.product_id, removed=_postings(olds.get(entry.product_id)), added=_postings(entry))
        _upsert(cur, entry)
    return len(newer)


def _upsert(cur: Any, entry: CatalogEntry) -> None:
    cur.execute(
        # The stock is taken from the entry only for a new one: afterwards it is recorded by
        # the recovery pass, which knows it is current (an edit may carry an older read).
        """INSERT INTO catalog_entries
               (product_id, revision, category, name_key, price, archived, facets, words, stock)
           VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, array_to_tsvector(%s::text[]), %s)
           ON CONFLICT (product_id) DO UPDATE SET
               revision = EXCLUDED.revision, category = EXCLUDED.category, name_key = EXCLUDED.name_key,
               price = EXCLUDED.price, archived = EXCLUDED.archived, facets = EXCLUDED.facets,
               words = EXCLUDED.words, stock = coalesce(catalog_entries.stock, EXCLUDED.stock)""",
        (entry.product_id, entry.revision, entry.category, entry.name_key, entry.price, entry.archived,
         json.dumps(entry.facets), list(entry.words), entry.stock))


def remove(cur: Any, product_id: str) -> None:
    """Forget a product deleted for good (and take it out of the counts)."""
    cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, product_id))
    cur.execute("DELETE FROM catalog_entries WHERE product_id = %s RETURNING category, archived, facets, "
                "name_key, array_to_string(tsvector_to_array(words), ' ') AS words", (product_id,))
    old = cur.fetchone()
    _change_counts(cur, removed=[_contribution(old)], added=[])
    _move_postings(cur, product_id, removed=_postings(old), added=None)


def _contribution(row: Any) -> Contribution | None:
    """What an entry (or a stored row) adds to the counters, if on sale: its category, its scalar
    facets and its search words."""
    if row is None:
        return None
    if isinstance(row, CatalogEntry):
        return None if row.archived else (row.category, row.counted_facets, list(row.words))
    if row["archived"]:
        return None
    return row["category"], counted_facets(row["facets"] or {}), (row["words"] or "").split()


def _postings(row: Any) -> tuple[str, set[str]] | None:
    """An entry's (or a stored row's) place in the search postings, if on sale: its name key and words."""
    if row is None:
        return None
    if isinstance(row, CatalogEntry):
        return None if row.archived else (row.name_key, set(row.words))
    return None if row["archived"] else (row["name_key"], set((row["words"] or "").split()))


def _move_postings(cur: Any, product_id: str, removed: tuple[str, set[str]] | None,
                   added: tuple[str, set[str]] | None) -> None:
    """Take a product's old postings out and put its new ones in (only those that differ: an edit of
    the price or the stock moves none). Each row is found by its whole key, an index lookup."""
    old_key, old_words = removed or (None, set[str]())
    new_key, new_words = added or (None, set[str]())
    gone = old_words if old_key != new_key else old_words - new_words
    come = new_words if old_key != new_key else new_words - old_words
    if gone:
        cur.execute("DELETE FROM catalog_postings WHERE term = ANY(%s) AND name_key = %s AND product_id = %s",
                    (sorted(gone), old_key, product_id))
    if come:
        cur.execute("INSERT INTO catalog_postings (term, name_key, product_id) "
                    "SELECT unnest(%s::text[]), %s, %s ON CONFLICT DO NOTHING", (sorted(come), new_key, product_id))


def _change_counts(cur: Any, removed: list[Contribution | None], added: list[Contribution | None]) -> None:
    """Move the counters from some contributions to others. Rows are locked in one fixed order
    (categories, values, keys, terms, each sorted) so concurrent projections never deadlock."""
    categories: Counter[str] = Counter()
    values: Counter[tuple[str, str, str]] = Counter()
    terms: Counter[str] = Counter()
    for sign, contribution in [(-1, c) for c in removed] + [(1, c) for c in added]:
        if contribution is None:
            continue
        category, facets, words = contribution
        categories[category] += sign
        for key, value in facets:
            values[(category, key, json_key(value))] += sign
        for word in words:
            terms[word] += sign
    for category, delta in sorted(categories.items()):
        if delta:
            _bump(cur, "catalog_categories", "products", ("category",), (category,), delta)
    distinct: Counter[tuple[str, str]] = Counter()
    for (category, key, value), delta in sorted(values.items()):
        if delta:
            before, after = _bump(cur, "catalog_facet_values", "products", ("category", "attr_key", "value"),
                                  (category, key, value), delta)
            distinct[(category, key)] += (after > 0) - (before > 0)
    for (category, key), delta in sorted(distinct.items()):
        if delta:
            _bump(cur, "catalog_facet_keys", "distinct_values", ("category", "attr_key"), (category, key), delta)
    for term, delta in sorted(terms.items()):
        if delta:
            _bump(cur, "catalog_terms", "products", ("term",), (term,), delta)


_BUMP_SQL: dict[str, tuple[str, str]] = {}


def _bump(cur: Any, table: str, column: str, key_columns: tuple[str, ...], key: tuple[object, ...], delta: int
          ) -> tuple[int, int]:
    """Add `delta` to a counter row (created at 0 if missing, removed at 0); returns (before, after)."""
    sql = _BUMP_SQL.get(table)
    if sql is None:
        casts = ["%s::jsonb" if c == "value" else "%s" for c in key_columns]
        where = " AND ".join(f"{c} = {cast}" for c, cast in zip(key_columns, casts, strict=True))
        sql = _BUMP_SQL[table] = (
            f"INSERT INTO {table} ({', '.join(key_columns)}, {column}) VALUES ({', '.join(casts)}, 0) "  # noqa: S608  # constant fragments
            f"ON CONFLICT DO NOTHING;"
            f"UPDATE {table} SET {column} = {column} + %s WHERE {where} "
            f"RETURNING {column} - %s AS before, {column} AS after",
            f"DELETE FROM {table} WHERE {where} AND {column} <= 0",  # noqa: S608  # constant fragments
        )
    upsert, delete = sql
    cur.execute(upsert, [*key, delta, *key, delta])
    row = cur.fetchone()
    if row["after"] <= 0:
        cur.execute(delete, list(key))
    return row["before"], row["after"]
