"""The catalog index in PostgreSQL: which products a catalog page shows, the category menu, the filters.

A projection of MongoDB's `products` (docs/catalog.md). Every listing order has a B-tree index that
PostgreSQL reads in order and stops reading at the page's end, so a page costs the same at 10,000
products as at a million, on page 1 as on page 5,000. The category and filter counts are kept beside
the entries, changed in the same transaction as the entry they count.

The SQL below is assembled only from constant fragments chosen by validated values (a sort order
name, whether a filter is present); every value travels as a parameter.

(About 400 lines: the page reads, the per-product projection with its counters and the rebuild
share one table layout and one counting rule; split, each would have to restate both.)
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice

from shop.adapters.postgres.errors import translates_errors
from shop.domain.listing import CatalogEntry, CatalogQuery, Position, attribute_value_candidates

# sort name → (column, descending)
_ORDERS = {"name": ("name_key", False), "price_asc": ("price", False), "price_desc": ("price", True)}
_LOCK_NAMESPACE = 7_201_004  # serializes the projections of one product (pg_advisory_xact_lock)
MAX_FACET_VALUES = 15
FEW_MATCHES = 1000  # up to this many matches, sorting all of them is cheaper than walking an order
WALK_LIMIT = 20_000  # index entries a filtered walk reads at most before the GIN path takes over
MAX_PREFIX_TERMS = 200  # a typed prefix that can mean more words than this is searched another way
FIRST_BATCH = 100  # postings a search's walk reads first per word; each further batch is 4 times larger
MAX_BATCH = 3200


def _planner_settings(bitmap: bool) -> str:
    """The planner settings of one access path, as one statement list (one round trip)."""
    settings = (("enable_seqscan", False), ("enable_indexscan", not bitmap),
                ("enable_indexonlyscan", not bitmap), ("enable_bitmapscan", bitmap))
    return "; ".join(f"SET LOCAL {setting} = {'on' if on else 'off'}" for setting, on in settings)


_PLANNER_SETTINGS = {bitmap: _planner_settings(bitmap) for bitmap in (False, True)}


def tsquery(words: list[str]) -> str:
    """All the words, the last one as a prefix: what a person typing a search means. Words are
    letters and digits only (shop.domain.listing.words_of), so quoting them is enough."""
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    return " & ".join(terms)


# Product ids travel as char(24)[], the column's own type: compared with text[] the column would be
# cast to text and its primary key unusable (a scan of every entry: half a second at a million).
RECORD_STOCK = """UPDATE catalog_entries e SET stock = l.stock
                  FROM unnest(%s::char(24)[], %s::int[]) AS l (product_id, stock)
                  WHERE e.product_id = l.product_id RETURNING e.product_id"""


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high): the terms that begin with `prefix` (terms compare by code point, COLLATE "C")."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _merged_postings(terms: list[str], start: Position | None, descending: bool,
                     exclude_name_key: str | None, inclusive: bool = False) -> tuple[str, list]:
    """The postings of `terms` after `start` in name order (before it, nearest first, when
    `descending`; `start` itself too when `inclusive`), merged, each product once, up to a LIMIT
    given last: (SQL, parameters). Each branch is read in its index's order and merged (Merge
    Append), a product under two of the terms counted once (Unique), and the read stops at the LIMIT."""
    cmp, direction = ("<", "DESC") if descending else (">", "ASC")
    cmp += "=" if inclusive else ""
    conditions, extra = ["term = %s"], []
    if start is not None:
        conditions.append(f"(name_key, product_id) {cmp} (%s, %s)")
        extra += [start.key, start.product_id]
    if exclude_name_key is not None:
        conditions.append("name_key <> %s")
        extra.append(exclude_name_key)
    branch = (f"(SELECT name_key, product_id FROM catalog_postings WHERE {' AND '.join(conditions)} "  # noqa: S608  # constant fragments
              f"ORDER BY name_key {direction}, product_id {direction})")
    sql = (f"SELECT DISTINCT name_key AS key, product_id FROM ({' UNION ALL '.join([branch] * len(terms))}) "  # noqa: S608  # constant fragments
           f"AS merged ORDER BY key {direction}, product_id {direction} LIMIT %s")
    return sql, [value for term in terms for value in (term, *extra)]


def _json_key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@translates_errors
class CatalogReader:
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

    def __init__(self, cur):
        self._cur = cur
        self._bitmap: bool | None = None  # the access path _planner last fixed
        self._counted: dict[str | None, int] = {}  # count_unfiltered's answers, by category
        self._word_terms_read: dict[tuple[str, ...], list[tuple[list[str] | None, int]]] = {}

    def _conditions(self, query: CatalogQuery, archived: bool) -> tuple[list[str], list, list[str], list]:
        """(conditions an ordered index serves, their parameters, match filters, their parameters)."""
        where = ["archived" if archived else "NOT archived"]  # matches the partial indexes' predicates
        params: list = []
        if query.category:
            where.append("category = %s")
            params.append(query.category)
        filters: list[str] = []
        filter_params: list = []
        if query.words:
            filters.append("words @@ %s::tsquery")
            filter_params.append(tsquery(query.words))
        for key, raw in query.attributes:
            # {"ram_gb": 16} matches 16; {"colores": ["negro"]} matches a list holding "negro"
            alternatives = [json.dumps({key: v}) for value in attribute_value_candidates(raw) for v in (value, [value])]
            filters.append("(" + " OR ".join(["facets @> %s::jsonb"] * len(alternatives)) + ")")
            filter_params += alternatives
        return where, params, filters, filter_params

    def _planner(self, *, bitmap: bool) -> None:
        """Fix the access path for the rest of this transaction (see the class docstring): one round
        trip when it changes, none when it is already set."""
        if self._bitmap is bitmap:
            return
        self._cur.execute(_PLANNER_SETTINGS[bitmap])
        self._bitmap = bitmap

    def word_bound(self, words: list[str]) -> int:
        """At most how many products on sale a search can match: the fewest products of any of its
        words (the last one as a prefix), from the term counters. 0 means no match at all."""
        return min(count for _, count in self._word_terms(words))

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

    def _search_walk(self, words: list[str], start: Position | None, descending: bool, limit: int,
                     exclude_name_key: str | None) -> tuple[list[Position], float] | None:
        """A search in name order through the postings (docs/catalog.md, "Search"). Each word has a
        list — the postings of that word, or for the last word, a prefix, of every word it begins,
        merged — in name order. The rarest word's list is read from the position in growing batches;
        with one word every entry is a match, with several each batch is checked against the other
        words' lists (by the postings' key). Before each batch the other lists are asked for their
        first entry from here, and the walk jumps to the latest (no match can come before it): words whose products
        sit far apart in name order cost a jump, not a walk. Returns the page and the estimated
        share of the catalog that matches, or None when it does not apply (a prefix of too many
        words) or WALK_LIMIT postings were read without a full page (the caller then takes the GIN
        path)."""
        lists = self._term_lists(words)
        if lists is None:
            return None
        if any(not terms for terms, _ in lists):
            return [], 0.0
        (driving, rarest), others = lists[0], [terms for terms, _ in lists[1:]]
        ordered = (min if descending else max)

        def key(position: Position) -> tuple[str, str]:
            return position.key, position.product_id

        self._planner(bitmap=False)
        found: list[Position] = []
        position, inclusive, walked = start, False, 0
        batch = FIRST_BATCH if others else limit
        while True:
            heads = []
            for terms in others:  # the leapfrog's jump
                sql, params = _merged_postings(terms, position, descending, exclude_name_key, inclusive)
                self._cur.execute(sql, [*params, 1])
                heads += self._positions("name") or [None]
            if None in heads:
                break  # a word with no entry left from here: no match left either
            if heads:
                position, inclusive = ordered(heads, key=key), True
            sql, params = _merged_postings(driving, position, descending, exclude_name_key, inclusive)
            if others:
                matches, last_read, read = self._checked_batch(sql, [*params, batch], others, descending)
            else:
                self._cur.execute(sql, [*params, batch])
                matches = self._positions("name")
                last_read, read = (matches[-1] if matches else None), len(matches)
            walked += read
            found += matches[:limit - len(found)]
            if len(found) == limit or read < batch:
                break  # a full page, or the rarest word's list read to its end
            if walked >= WALK_LIMIT:
                return None
            position, inclusive = last_read, False
            batch = min(batch * 4, MAX_BATCH)
        estimate = rarest if not others else rarest * len(found) / max(1, walked)
        total = self.count_unfiltered(None)
        return found, min(1.0, estimate / total) if total else 0.0

    def _checked_batch(self, batch_sql: str, params: list, others: list[list[str]], descending: bool
                       ) -> tuple[list[Position], Position | None, int]:
        """A batch of the rarest word's postings, each kept if every other word's list has it too —
        checked in the database, by the postings' own key (index only). Returns the matches, the last
        posting read (where the next batch starts) and how many were read."""
        direction, reverse = ("DESC", "ASC") if descending else ("ASC", "DESC")
        has_all = " AND ".join(["EXISTS (SELECT 1 FROM catalog_postings o WHERE o.term = ANY(%s::text[]) "
                                "AND o.name_key = b.key AND o.product_id = b.product_id)"] * len(others))
        self._cur.execute(
            f"WITH batch AS MATERIALIZED ({batch_sql}) "  # noqa: S608  # constant fragments
            "SELECT key, product_id, matches, is_last, n FROM ("
            "  SELECT key, product_id, count(*) OVER () AS n,"
            f"        row_number() OVER (ORDER BY key {reverse}, product_id {reverse}) = 1 AS is_last,"
            f"        {has_all} AS matches"
            f"  FROM batch b) AS checked WHERE matches OR is_last ORDER BY key {direction}, product_id {direction}",
            [*params, *others])
        rows = self._cur.fetchall()
        matches = [Position("name", row["key"], row["product_id"]) for row in rows if row["matches"]]
        last = next((Position("name", row["key"], row["product_id"]) for row in rows if row["is_last"]), None)
        return matches, last, int(rows[0]["n"]) if rows else 0

    def _term_lists(self, words: list[str]) -> list[tuple[list[str], int]] | None:
        """The postings lists of a search, rarest first (see _word_terms); None: a prefix of more
        than MAX_PREFIX_TERMS words."""
        lists = self._word_terms(words)
        if any(terms is None for terms, _ in lists):
            return None
        return sorted(lists, key=lambda item: item[1])

    def _word_terms(self, words: list[str]) -> list[tuple[list[str] | None, int]]:
        """For each word, the terms it means and how many products they have, read once per page: a
        whole word means itself, the last word (a prefix) every word it begins — None for its terms
        when it begins more than MAX_PREFIX_TERMS (then only their count is read)."""
        key = tuple(words)
        if key not in self._word_terms_read:
            found: list[tuple[list[str] | None, int]] = []
            for word in dict.fromkeys(words[:-1]):
                self._cur.execute("SELECT coalesce(sum(products), 0) AS n FROM catalog_terms WHERE term = %s",
                                  (word,))
                count = int(self._cur.fetchone()["n"])
                found.append(([word] if count else [], count))
            self._cur.execute("SELECT term, products FROM catalog_terms WHERE term >= %s AND term < %s "
                              "ORDER BY term LIMIT %s", (*prefix_range(words[-1]), MAX_PREFIX_TERMS + 1))
            rows = self._cur.fetchall()
            if len(rows) <= MAX_PREFIX_TERMS:
                found.append(([row["term"] for row in rows], sum(row["products"] for row in rows)))
            else:
                self._cur.execute("SELECT coalesce(sum(products), 0) AS n FROM catalog_terms "
                                  "WHERE term >= %s AND term < %s", prefix_range(words[-1]))
                found.append((None, int(self._cur.fetchone()["n"])))
            self._word_terms_read[key] = found
        return self._word_terms_read[key]

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

    def facets(self, category: str) -> dict[str, list]:
        """The attributes offered as filters in a category (2 to 15 distinct values) and their values."""
        self._cur.execute(
            """SELECT v.attr_key, v.value
               FROM catalog_facet_keys k JOIN catalog_facet_values v USING (category, attr_key)
               WHERE k.category = %s AND k.distinct_values BETWEEN 2 AND %s AND v.products > 0""",
            (category, MAX_FACET_VALUES))
        facets: dict[str, list] = {}
        for row in self._cur.fetchall():
            facets.setdefault(row["attr_key"], []).append(row["value"])
        return {key: sorted(values, key=lambda v: (str(type(v)), v)) for key, values in sorted(facets.items())}


@translates_errors
class CatalogIndex:
    """The catalog's read model, in the shop's PostgreSQL database."""

    def __init__(self, db):
        self._db = db

    # --- reading ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[CatalogReader]:
        """Every read of one page in one short read-only transaction (one connection, no extra round trips)."""
        with self._db.transaction() as cur:
            yield CatalogReader(cur)

    def is_empty(self) -> bool:
        with self._db.transaction() as cur:
            cur.execute("SELECT NOT EXISTS (SELECT 1 FROM catalog_entries) AS empty")
            return cur.fetchone()["empty"]

    # --- writing: one product at a time, counters in the same transaction -------------------------

    def project(self, entry: CatalogEntry) -> bool:
        """Make the index show `entry`, unless it already shows that revision or a newer one (two
        projections of one product may arrive in any order; the older never wins)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, entry.product_id))
            cur.execute("SELECT revision, category, archived, facets, name_key, "
                        "array_to_string(tsvector_to_array(words), ' ') AS words "
                        "FROM catalog_entries WHERE product_id = %s", (entry.product_id,))
            old = cur.fetchone()
            if old is not None and old["revision"] >= entry.revision:
                return False
            _change_counts(cur, removed=_contribution(old), added=_contribution(entry))
            _move_postings(cur, entry.product_id, removed=_postings(old), added=_postings(entry))
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
            return True

    def record_stock(self, levels: list[tuple[str, int]]) -> set[str]:
        """Copy products' current stock (read from MongoDB by the recovery pass); returns the ids
        recorded (a product not in the index yet is not)."""
        if not levels:
            return set()
        with self._db.transaction() as cur:
            cur.execute(RECORD_STOCK, ([pid for pid, _ in levels], [stock for _, stock in levels]))
            return {row["product_id"] for row in cur.fetchall()}

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

    def remove(self, product_id: str) -> None:
        """Forget a product deleted for good (and take it out of the counts)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, product_id))
            cur.execute("DELETE FROM catalog_entries WHERE product_id = %s RETURNING category, archived, facets, "
                        "name_key, array_to_string(tsvector_to_array(words), ' ') AS words", (product_id,))
            old = cur.fetchone()
            _change_counts(cur, removed=_contribution(old), added=None)
            _move_postings(cur, product_id, removed=_postings(old), added=None)

    # --- rebuilding from MongoDB --------------------------------------------------------------------

    def rebuild(self, entries: Iterable[CatalogEntry], batch_size: int = 5000) -> int:
        """Replace the whole index with `entries` and recount everything, in one transaction (readers
        see the old index until it commits). Returns how many entries were written."""
        written = 0
        iterator = iter(entries)
        with self._db.transaction() as cur:
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
        self._db.vacuum_analyze("catalog_entries")
        self._db.vacuum_analyze("catalog_postings")
        return written

    def stored_counts(self) -> dict[str, dict]:
        """The counters as kept (for the consistency check and its tests)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT category, products AS n FROM catalog_categories WHERE products > 0")
            categories = {row["category"]: row["n"] for row in cur.fetchall()}
            cur.execute("SELECT category, attr_key, value, products AS n FROM catalog_facet_values WHERE products > 0")
            values = {(r["category"], r["attr_key"], _json_key(r["value"])): r["n"] for r in cur.fetchall()}
            cur.execute("SELECT category, attr_key, distinct_values AS n FROM catalog_facet_keys "
                        "WHERE distinct_values > 0")
            keys = {(r["category"], r["attr_key"]): r["n"] for r in cur.fetchall()}
            cur.execute("SELECT term, products AS n FROM catalog_terms WHERE products > 0")
            terms = {r["term"]: r["n"] for r in cur.fetchall()}
            cur.execute("SELECT term, name_key, product_id FROM catalog_postings")
            postings = {(r["term"], r["name_key"], r["product_id"]) for r in cur.fetchall()}
        return {"categories": categories, "facet_values": values, "facet_keys": keys, "terms": terms,
                "postings": postings}

    def entries(self) -> Iterator[dict]:
        """Every entry as stored (product id, revision, category, name key, price, archived, facets)."""
        with self._db.transaction() as cur:
            cur.execute("SELECT product_id, revision, category, name_key, price, archived, facets, "
                        "array_to_string(tsvector_to_array(words), ' ') AS words FROM catalog_entries")
            yield from cur.fetchall()


_RECOUNT_TERMS = """SELECT term, count(*) FROM catalog_entries, unnest(tsvector_to_array(words)) AS term
                    WHERE NOT archived GROUP BY term"""
_ALL_POSTINGS = """SELECT term, name_key, product_id FROM catalog_entries, unnest(tsvector_to_array(words)) AS term
                   WHERE NOT archived"""
_RECOUNT_CATEGORIES = "SELECT category, count(*) FROM catalog_entries WHERE NOT archived GROUP BY category"
_RECOUNT_VALUES = """SELECT category, kv.key, kv.value, count(*)
                     FROM catalog_entries, jsonb_each(facets) AS kv
                     WHERE NOT archived AND jsonb_typeof(kv.value) IN ('string', 'number', 'boolean')
                     GROUP BY 1, 2, 3"""


def expected_counts(entries: Iterable[CatalogEntry]) -> dict[str, dict]:
    """The counters recomputed from entries (for the consistency check and its tests)."""
    categories: Counter = Counter()
    values: Counter = Counter()
    terms: Counter = Counter()
    postings: set[tuple[str, str, str]] = set()
    for entry in entries:
        if entry.archived:
            continue
        categories[entry.category] += 1
        for key, value in entry.counted_facets:
            values[(entry.category, key, _json_key(value))] += 1
        terms.update(entry.words)
        postings.update((word, entry.name_key, entry.product_id) for word in entry.words)
    keys = Counter((category, key) for category, key, _ in values)
    return {"categories": dict(categories), "facet_values": dict(values), "facet_keys": dict(keys),
            "terms": dict(terms), "postings": postings}


def _contribution(row) -> tuple[str, list[tuple[str, object]], list[str]] | None:
    """What an entry (or a stored row) adds to the counters, if on sale: its category, its scalar
    facets and its search words."""
    if row is None:
        return None
    if isinstance(row, CatalogEntry):
        return None if row.archived else (row.category, row.counted_facets, list(row.words))
    if row["archived"]:
        return None
    facets = row["facets"] or {}
    return (row["category"], [(k, v) for k, v in facets.items() if not isinstance(v, list)],
            (row["words"] or "").split())


def _postings(row) -> tuple[str, set[str]] | None:
    """An entry's (or a stored row's) place in the search postings, if on sale: its name key and words."""
    if row is None:
        return None
    if isinstance(row, CatalogEntry):
        return None if row.archived else (row.name_key, set(row.words))
    return None if row["archived"] else (row["name_key"], set((row["words"] or "").split()))


def _move_postings(cur, product_id: str, removed, added) -> None:
    """Take a product's old postings out and put its new ones in (only those that differ: an edit of
    the price or the stock moves none). Each row is found by its whole key, an index lookup."""
    old_key, old_words = removed or (None, set())
    new_key, new_words = added or (None, set())
    gone = old_words if old_key != new_key else old_words - new_words
    come = new_words if old_key != new_key else new_words - old_words
    if gone:
        cur.execute("DELETE FROM catalog_postings WHERE term = ANY(%s) AND name_key = %s AND product_id = %s",
                    (sorted(gone), old_key, product_id))
    if come:
        cur.execute("INSERT INTO catalog_postings (term, name_key, product_id) "
                    "SELECT unnest(%s::text[]), %s, %s ON CONFLICT DO NOTHING", (sorted(come), new_key, product_id))


def _change_counts(cur, removed, added) -> None:
    """Move the counters from one contribution to another. Rows are locked in one fixed order
    (categories, values, keys, terms, each sorted) so concurrent projections never deadlock."""
    categories: Counter = Counter()
    values: Counter = Counter()
    terms: Counter = Counter()
    for sign, contribution in ((-1, removed), (1, added)):
        if contribution is None:
            continue
        category, facets, words = contribution
        categories[category] += sign
        for key, value in facets:
            values[(category, key, _json_key(value))] += sign
        for word in words:
            terms[word] += sign
    for category, delta in sorted(categories.items()):
        if delta:
            _bump(cur, "catalog_categories", "products", ("category",), (category,), delta)
    distinct: Counter = Counter()
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


_BUMP_SQL = {}


def _bump(cur, table: str, column: str, key_columns: tuple[str, ...], key: tuple, delta: int) -> tuple[int, int]:
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
