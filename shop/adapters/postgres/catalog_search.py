"""Search in name order through the postings (docs/catalog.md, "Search"): the part of a catalog page's
reads that walks the words' lists instead of an index of the whole catalog.

`PostingsWalk` is mixed into `CatalogReader` (catalog_reader.py), whose cursor, planner switch and
category counters it uses. The SQL is assembled only from constant fragments; every value travels as
a parameter.
"""

from __future__ import annotations

from typing import Any

from shop.domain.listing import Position

MAX_PREFIX_TERMS = 200  # a typed prefix that can mean more words than this is searched another way
FIRST_BATCH = 100  # postings a search's walk reads first per word; each further batch is 4 times larger
MAX_BATCH = 3200
WALK_LIMIT = 20_000  # index entries a filtered walk reads at most before the GIN path takes over


def tsquery(words: list[str]) -> str:
    """All the words, the last one as a prefix: what a person typing a search means. Words are
    letters and digits only (shop.domain.listing.words_of), so quoting them is enough."""
    terms = [f"'{word}'" for word in words]
    terms[-1] += ":*"
    return " & ".join(terms)


def prefix_range(prefix: str) -> tuple[str, str]:
    """[low, high): the terms that begin with `prefix` (terms compare by code point, COLLATE "C")."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _merged_postings(terms: list[str], start: Position | None, descending: bool,
                     exclude_name_key: str | None, inclusive: bool = False) -> tuple[str, list[Any]]:
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


class PostingsWalk:
    """The postings walk of one page's reads (mixed into CatalogReader, which provides these)."""

    _cur: Any
    _word_terms_read: dict[tuple[str, ...], list[tuple[list[str] | None, int]]]

    def _planner(self, *, bitmap: bool) -> None:
        raise NotImplementedError

    def count_unfiltered(self, category: str | None) -> int:
        raise NotImplementedError

    def _positions(self, sort: str) -> list[Position]:
        raise NotImplementedError

    def word_bound(self, words: list[str]) -> int:
        """At most how many products on sale a search can match: the fewest products of any of its
        words (the last one as a prefix), from the term counters. 0 means no match at all."""
        return min(count for _, count in self._word_terms(words))

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
            return str(position.key), position.product_id  # name keys: text

        self._planner(bitmap=False)
        found: list[Position] = []
        position, inclusive, walked = start, False, 0
        batch = FIRST_BATCH if others else limit
        while True:
            heads: list[Position] = []
            for terms in others:  # the leapfrog's jump
                sql, params = _merged_postings(terms, position, descending, exclude_name_key, inclusive)
                self._cur.execute(sql, [*params, 1])
                heads += self._positions("name")
            if len(heads) < len(others):
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
        known = [(terms, count) for terms, count in lists if terms is not None]
        if len(known) < len(lists):
            return None
        return sorted(known, key=lambda item: item[1])

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
