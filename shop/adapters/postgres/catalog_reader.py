"""The reads of one catalog page in PostgreSQL: which products a page shows, in which order, how many
match, the category menu and the filters (docs/catalog.md).

Every listing order has a B-tree index that PostgreSQL reads in order and stops reading at the page's
end, so a page costs the same at 10,000 products as at a million, on page 1 as on page 5,000. The SQL
below is assembled only from constant fragments chosen by validated values (a sort order name,
whether a filter is present); every value travels as a parameter.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from shop.adapters.postgres.catalog_search import WALK_LIMIT, PostingsWalk, tsquery
from shop.adapters.postgres.errors import translates_errors
from shop.domain.listing import (
    BEFORE_ALL_NAMES,
    COUNT_LIMIT,
    FEW_MATCHES,
    CatalogQuery,
    ListingIds,
    Position,
    attribute_value_candidates,
    estimated_total,
    sorted_facet_counts,
)

# sort name → (column, descending)
_ORDERS = {"name": ("name_key", False), "price_asc": ("price", False), "price_desc": ("price", True)}
MAX_FACET_VALUES = 15


def _planner_settings(bitmap: bool) -> str:
    """The planner settings of one access path, as one statement list (one round trip)."""
    settings = (("enable_seqscan", False), ("enable_indexscan", not bitmap),
                ("enable_indexonlyscan", not bitmap), ("enable_bitmapscan", bitmap))
    return "; ".join(f"SET LOCAL {setting} = {'on' if on else 'off'}" for setting, on in settings)


_PLANNER_SETTINGS = {bitmap: _planner_settings(bitmap) for bitmap in (False, True)}


@translates_errors
class CatalogReader(PostingsWalk):
    """The reads of one catalog page, on one cursor.

    A filtered listing (search words, attribute filters) is read in one of two ways, chosen by how
    many products match, never by the planner's estimate (PostgreSQL cannot estimate a prefix search
    or a JSON containment well, and a wrong guess costs a walk of the whole catalog):
      - few matches (≤ FEW_MATCHES): the GIN indexes give all of them, which are then sorted;
      - many matches: the listing order's B-tree index is walked with the filter applied, which
        finds a page after about per_page / share-of-matches entries; the walk is bounded, and if
        it ends early (matches clustered far along that order) the GIN path finishes the page.
    Either way a page reads at most a few thousand rows, at 10,000 products as at 1,000,000.
    """

    def __init__(self, cur: Any):
        self._cur = cur
        self._bitmap: bool | None = None  # the access path _planner last fixed
        self._counted: dict[str | None, int] = {}  # count_unfiltered's answers, by category
        self._word_terms_read: dict[tuple[str, ...], list[tuple[list[str] | None, int]]] = {}

    def _conditions(self, query: CatalogQuery, archived: bool) -> tuple[list[str], list[Any], list[str], list[Any]]:
        """(conditions an ordered index serves, their parameters, match filters, their parameters)."""
        where = ["archived" if archived else "NOT archived"]  # matches the partial indexes' predicates
        params: list[Any] = []
        if query.category:
            where.append("category = %s")
            params.append(query.category)
        filters: list[str] = []
        filter_params: list[Any] = []
        if query.words:
            filters.append("words @@ %s::tsquery")
            filter_params.append(tsquery(query.words))
        for key, raw in query.attributes:
            # {"ram_gb": 16} matches 16; {"colores": ["negro"]} matches a list holding "negro"
            alternatives = [json.dumps({key: v}) for value in attribute_value_candidates(raw) for v in (value, [value])]
            filters.append("(" + " OR ".join(["facets @> %s::jsonb"] * len(alternatives)) + ")")
            filter_params += alternatives
        return where, params, filters, filter_params


    def page(self, query: CatalogQuery, *, archived: bool = False) -> ListingIds:
        """One page of a listing (of products on sale, or of archived ones for staff): its products'
        ids in order, its neighbours' positions and its total. The access path is chosen here, from
        the counters (see the class docstring); products named exactly as searched come first on the
        first page and nowhere else."""
        if query.search and not query.words:  # only punctuation or symbols: nothing to look for
            return ListingIds([], 0, True, None, None, False)
        filtered = bool(query.words or query.attributes)
        bound = self.word_bound(query.words) if query.words and not archived else None
        if bound == 0:  # a word no product on sale has: nothing to read
            return ListingIds([], 0, True, None, None, query.after is not None or query.before is not None)
        few = bound is not None and bound <= FEW_MATCHES
        per_page = query.per_page
        skip_key = None if archived else query.exact_name_key
        exact = self.exact_name_matches(query, skip_key, per_page) if skip_key and query.is_first_page else []
        if query.before is not None:
            positions, share = self.positions(query, start=query.before, backwards=True, limit=per_page + 1,
                                              archived=archived, exclude_name_key=skip_key, few=few)
            if len(positions) <= per_page:  # reached the beginning: that is the first page, as it is shown
                return self.page(replace(query, before=None), archived=archived)
            positions = positions[:per_page][::-1]
            next_position: Position | None = positions[-1]
            has_previous = True
        else:
            room = per_page - len(exact)
            positions, share = self.positions(query, start=query.after, backwards=False, limit=room + 1,
                                              archived=archived, exclude_name_key=skip_key, few=few)
            more, positions = len(positions) > room, positions[:room]
            next_position = (positions[-1] if positions else BEFORE_ALL_NAMES) if more else None
            has_previous = query.after is not None

        def in_range() -> int:  # products in the listing's range, ignoring the filters (counters)
            return self.count_archived() if archived else self.count_unfiltered(query.category)

        if not filtered:
            total, total_is_exact = in_range(), True
        elif share is not None:  # many matches, read by a walk: estimated from the share that matched
            total, total_is_exact = estimated_total(share, in_range(), per_page), False
        else:  # few matches: counting them costs what reading them did
            counted = self.count_matches(query, archived=archived)
            total, total_is_exact = min(counted, COUNT_LIMIT), counted <= COUNT_LIMIT
        return ListingIds(exact + [p.product_id for p in positions], total, total_is_exact, next_position,
                          positions[0] if has_previous and positions else None, has_previous,
                          total_is_estimate=share is not None)

    def _planner(self, *, bitmap: bool) -> None:
        """Fix the access path for the rest of this transaction (see the class docstring): one round
        trip when it changes, none when it is already set."""
        if self._bitmap is bitmap:
            return
        self._cur.execute(_PLANNER_SETTINGS[bitmap])
        self._bitmap = bitmap


    def count_matches(self, query: CatalogQuery, *, archived: bool = False, cap: int = FEW_MATCHES) -> int:
        """How many products match the filters, counted up to `cap` + 1 through the GIN indexes (cost
        ∝ the postings of the query's words and values: use when they are known to be few)."""
        where, params, filters, filter_params = self._conditions(query, archived)
        self._planner(bitmap=True)
        self._cur.execute(f"SELECT count(*) AS n FROM (SELECT 1 FROM catalog_entries "  # noqa: S608  # constant fragments
                          f"WHERE {' AND '.join(where + filters)} LIMIT %s) AS matches",
                          [*params, *filter_params, cap + 1])
        return int(self._cur.fetchone()["n"])

    def positions(self, query: CatalogQuery, *, start: Position | None, backwards: bool, limit: int,
                  archived: bool = False, exclude_name_key: str | None = None, few: bool = False
                  ) -> tuple[list[Position], float | None]:
        """Up to `limit` products after `start` in the query's order (before it, nearest first, when
        `backwards`), and for a filtered walk the share of walked entries that matched (None when
        the page was read some other way). `few`: the filters are known to match few products."""
        column, descending = _ORDERS[query.sort]
        descending = descending != backwards
        where, params, filters, filter_params = self._conditions(query, archived)
        if exclude_name_key is not None:
            where.append("name_key <> %s")
            params.append(exclude_name_key)
        if start is not None:
            where.append(f"({column}, product_id) {'<' if descending else '>'} (%s, %s)")
            params += [start.key, start.product_id]
        direction = "DESC" if descending else "ASC"
        order = f"ORDER BY {column} {direction}, product_id {direction}"
        if query.words and not (few or archived or query.category or query.attributes) and query.sort == "name":
            walked = self._search_walk(query.words, start, descending, limit, exclude_name_key)
            if walked is not None:
                return walked
        if not filters:
            self._planner(bitmap=False)
            self._cur.execute(f"SELECT product_id, {column} AS key FROM catalog_entries "  # noqa: S608  # constant fragments
                              f"WHERE {' AND '.join(where)} {order} LIMIT %s", [*params, limit])
            return self._positions(query.sort), None
        if not few:
            # Walk the order's index (index-only in name order: it carries words and facets), at most
            # WALK_LIMIT entries, filtering as it goes; the outer ORDER BY is the inner one, so the
            # walk stops at the page's last match.
            needed = ", ".join(c for c in ("words", "facets") if any(c in f for f in filters))
            self._planner(bitmap=False)
            self._cur.execute(
                f"SELECT product_id, key FROM (SELECT product_id, {column} AS key, {needed} "  # noqa: S608  # constant fragments
                f"FROM catalog_entries WHERE {' AND '.join(where)} {order} LIMIT %s) AS walked "
                f"WHERE {' AND '.join(filters)} ORDER BY key {direction}, product_id {direction} LIMIT %s",
                [*params, WALK_LIMIT, *filter_params, limit])
            found = self._positions(query.sort)
            if len(found) == limit:
                # How many entries the walk read: those up to the last match (an index-only count).
                last = found[-1]
                self._cur.execute(
                    f"SELECT count(*) AS n FROM catalog_entries WHERE {' AND '.join(where)} "  # noqa: S608  # constant fragments
                    f"AND ({column}, product_id) {'>=' if descending else '<='} (%s, %s)",
                    [*params, last.key, last.product_id])
                return found, limit / max(limit, int(self._cur.fetchone()["n"]))
        # Few matches (or a walk that ended early): all matches from the GIN indexes, then sorted.
        self._planner(bitmap=True)
        self._cur.execute(f"SELECT product_id, {column} AS key FROM catalog_entries "  # noqa: S608  # constant fragments
                          f"WHERE {' AND '.join(where + filters)} {order} LIMIT %s",
                          [*params, *filter_params, limit])
        return self._positions(query.sort), None

    def _positions(self, sort: str) -> list[Position]:
        return [Position(sort, row["key"], row["product_id"]) for row in self._cur.fetchall()]

    def exact_name_matches(self, query: CatalogQuery, name_key: str, limit: int) -> list[str]:
        """Products whose whole name is what was searched (they are listed first)."""
        where, params, filters, filter_params = self._conditions(query, archived=False)
        self._planner(bitmap=False)
        self._cur.execute(f"SELECT product_id FROM catalog_entries WHERE {' AND '.join(where + filters)} "  # noqa: S608  # constant fragments
                          "AND name_key = %s ORDER BY name_key, product_id LIMIT %s",
                          [*params, *filter_params, name_key, limit])
        return [row["product_id"] for row in self._cur.fetchall()]

    def count_unfiltered(self, category: str | None) -> int:
        """Products on sale in a category, or in all: from the category counters (read once per page)."""
        if category not in self._counted:
            if category:
                self._cur.execute("SELECT coalesce(sum(products), 0) AS n FROM catalog_categories "
                                  "WHERE category = %s", (category,))
            else:
                self._cur.execute("SELECT coalesce(sum(products), 0) AS n FROM catalog_categories")
            self._counted[category] = int(self._cur.fetchone()["n"])
        return self._counted[category]

    def count_archived(self) -> int:
        self._planner(bitmap=False)
        self._cur.execute("SELECT count(*) AS n FROM catalog_entries WHERE archived")
        return int(self._cur.fetchone()["n"])

    def categories(self) -> list[tuple[str, int]]:
        self._cur.execute("SELECT category, products FROM catalog_categories WHERE products > 0")
        return [(row["category"], row["products"]) for row in self._cur.fetchall()]

    def facets(self, category: str) -> dict[str, list[tuple[object, int]]]:
        """The attributes offered as filters in a category (2 to 15 distinct values), each value with
        how many products on sale in the category have it (the index's counters: no counting here)."""
        self._cur.execute(
            """SELECT v.attr_key, v.value, v.products
               FROM catalog_facet_keys k JOIN catalog_facet_values v USING (category, attr_key)
               WHERE k.category = %s AND k.distinct_values BETWEEN 2 AND %s AND v.products > 0""",
            (category, MAX_FACET_VALUES))
        facets: dict[str, list[tuple[object, int]]] = {}
        for row in self._cur.fetchall():
            facets.setdefault(row["attr_key"], []).append((row["value"], row["products"]))
        return {key: sorted_facet_counts(values) for key, values in sorted(facets.items())}
