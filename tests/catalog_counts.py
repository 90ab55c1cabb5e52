"""The catalog index's counters, read as stored and recomputed from entries: what the tests compare
to prove the projection and the rebuild keep them exact."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from shop.adapters.postgres.catalog_projection import json_key
from shop.domain.listing import CatalogEntry


def stored_counts(db: Any) -> dict[str, Any]:
    """The counters as kept."""
    with db.transaction() as cur:
        cur.execute("SELECT category, products AS n FROM catalog_categories WHERE products > 0")
        categories = {row["category"]: row["n"] for row in cur.fetchall()}
        cur.execute("SELECT category, attr_key, value, products AS n FROM catalog_facet_values WHERE products > 0")
        values = {(r["category"], r["attr_key"], json_key(r["value"])): r["n"] for r in cur.fetchall()}
        cur.execute("SELECT category, attr_key, distinct_values AS n FROM catalog_facet_keys "
                    "WHERE distinct_values > 0")
        keys = {(r["category"], r["attr_key"]): r["n"] for r in cur.fetchall()}
        cur.execute("SELECT term, products AS n FROM catalog_terms WHERE products > 0")
        terms = {r["term"]: r["n"] for r in cur.fetchall()}
        cur.execute("SELECT term, name_key, product_id FROM catalog_postings")
        postings = {(r["term"], r["name_key"], r["product_id"]) for r in cur.fetchall()}
    return {"categories": categories, "facet_values": values, "facet_keys": keys, "terms": terms,
            "postings": postings}


def stored_entries(db: Any) -> Iterator[dict[str, Any]]:
    """Every entry as stored (product id, revision, category, name key, price, archived, facets, words)."""
    with db.transaction() as cur:
        cur.execute("SELECT product_id, revision, category, name_key, price, archived, facets, "
                    "array_to_string(tsvector_to_array(words), ' ') AS words FROM catalog_entries")
        yield from cur.fetchall()


def expected_counts(entries: Iterable[CatalogEntry]) -> dict[str, Any]:
    """The counters recomputed from entries."""
    categories: Counter = Counter()
    values: Counter = Counter()
    terms: Counter = Counter()
    postings: set[tuple[str, str, str]] = set()
    for entry in entries:
        if entry.archived:
            continue
        categories[entry.category] += 1
        for key, value in entry.counted_facets:
            values[(entry.category, key, json_key(value))] += 1
        terms.update(entry.words)
        postings.update((word, entry.name_key, entry.product_id) for word in entry.words)
    keys = Counter((category, key) for category, key, _ in values)
    return {"categories": dict(categories), "facet_values": dict(values), "facet_keys": dict(keys),
            "terms": dict(terms), "postings": postings}

