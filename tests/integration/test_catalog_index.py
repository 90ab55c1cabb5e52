"""The catalog index (PostgreSQL) on the real databases: it follows every product write, its counters
equal a recount, crashes leave nothing behind for good, and every query it or MongoDB runs for a
catalog page or a sweep is served by an index."""

from __future__ import annotations

import json
import random
import threading
import uuid
from decimal import Decimal

import pytest
from pymongo import monitoring

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import catalog_projection, catalog_reader, catalog_search
from shop.adapters.postgres.catalog_reader import CatalogReader
from shop.domain.listing import CatalogEntry, parse_catalog_query
from shop.services import catalog
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from tests.catalog_counts import expected_counts, stored_counts
from tests.catalog_counts import stored_entries as stored_rows


def counts_from_mongodb(store) -> dict:
    return expected_counts(CatalogEntry.of(p) for p in store.catalog.everything_for_the_index())


def entries_from_mongodb(store) -> dict:
    return {e.product_id: (e.revision, e.category, e.name_key, e.price, e.archived, e.facets)
            for e in map(CatalogEntry.of, store.catalog.everything_for_the_index())}


def stored_entries(db) -> dict:
    return {row["product_id"]: (row["revision"], row["category"], row["name_key"], row["price"], row["archived"],
                                row["facets"]) for row in stored_rows(db)}


def query(**params):
    return parse_catalog_query({k: [v] for k, v in params.items()})


def fields(rng: random.Random, n: int) -> dict:
    category = rng.choice(["Libros", "Móviles", "Cafeteras"])
    return {"name": f"{rng.choice(['Café', 'Libro', 'Móvil', 'Taza'])} {rng.choice(['rojo', 'ágil', 'Ñandú'])} {n}",
            "category": category, "price": f"{rng.randint(1, 9999) / 100:.2f}", "description": "",
            "attributes": {"marca": rng.choice(["A", "B", "C"]), "ram_gb": rng.choice([4, 8, 16]),
                           "nuevo": rng.choice([True, False]), "colores": ["negro"], "dims": {"alto": n}}}


def test_the_index_and_its_counters_equal_a_recount_after_random_product_writes(db, store):
    rng = random.Random(20261130)
    ids: list[str] = []
    for n in range(120):
        action = rng.choice(["create", "create", "edit", "archive", "restore", "restock", "delete"])
        if action == "create" or not ids:
            product_id, _ = catalog.create_product(db, store, {**fields(rng, n), "stock": rng.randint(0, 5)})
            ids.append(product_id)
            continue
        product_id = rng.choice(ids)
        product = store.catalog.get(product_id, include_archived=True)
        if action == "edit":
            catalog.edit_product(db, store, product_id, fields(rng, n), product.updated_at)
        elif action == "archive" and not product.deleted:
            catalog.delete_product(db, store, product_id)  # archived, or deleted when never ordered
            if store.catalog.get(product_id, include_archived=True) is None:
                ids.remove(product_id)
        elif action == "restore" and product.deleted:
            catalog.restore_product(db, store, product_id)
        elif action == "restock":
            catalog.adjust_stock(store, product_id, 3, "recibido")
    assert stored_entries(db) == entries_from_mongodb(store)
    assert stored_counts(db) == counts_from_mongodb(store)
    assert store.catalog.pending() == []


def test_a_rebuild_gives_the_same_index_as_following_the_writes(db, store, make_product):
    for n in range(15):
        make_product(name=f"Producto {n}", category=["A", "B"][n % 2], attributes={"talla": n % 3})
    before_entries, before_counts = stored_entries(db), stored_counts(db)
    assert catalog.rebuild_catalog_index(db, store) == 15
    assert stored_entries(db) == before_entries
    assert stored_counts(db) == before_counts


def test_a_write_whose_projection_was_lost_is_projected_by_the_recovery_pass(db, store, make_product):
    product = make_product(name="Antes")
    # A crash between the MongoDB write and the projection: MongoDB changed, the index did not.
    store.catalog.update(str(product["_id"]), {"name": "Después", "category": "Pruebas", "price": Decimal("2.00"),
                                               "attributes": {}, "description": ""}, product["updated_at"])
    assert store.catalog.pending() == [str(product["_id"])]
    listed = catalog.browse_catalog(db, store, query(q="despues"))
    assert listed.items == []  # the index still has the old name
    recover(db, store)
    assert [p.name for p in catalog.browse_catalog(db, store, query(q="despues")).items] == ["Después"]
    assert store.catalog.pending() == []


def test_a_product_write_succeeds_while_postgresql_is_unreachable_and_is_listed_later(db, store, migrated):
    from shop.adapters.postgres import PostgresDatabase

    broken = PostgresDatabase(migrated, max_connections=1)
    broken.close()  # every connection gone: each use now fails as with a server that went away
    product_id, _ = catalog.create_product(broken, store, {"name": "Tetera", "category": "Cocina", "price": "12.00",
                                                           "attributes": {}, "stock": 3})
    assert store.catalog.pending() == [product_id]
    recover(db, store)
    assert [p.name for p in catalog.browse_catalog(db, store, query(q="tetera")).items] == ["Tetera"]


def test_projections_arriving_out_of_order_never_show_an_older_revision(db, store, make_product):
    product = make_product(name="Versión 1")
    old = store.catalog.get(str(product["_id"]))
    catalog.edit_product(db, store, str(product["_id"]), {"name": "Versión 2", "category": "Pruebas",
                                                         "price": "10.00", "attributes": {}}, old.updated_at)
    assert not db.catalog.project(CatalogEntry.of(old))  # a late projection of revision 1
    assert [p.name for p in catalog.browse_catalog(db, store, query(q="version")).items] == ["Versión 2"]


def test_concurrent_projections_of_many_products_keep_the_counters_exact(db, store, migrated):
    from shop.adapters.postgres import PostgresDatabase

    ids = store.catalog.insert_many([{"name": f"P{n}", "category": ["X", "Y"][n % 2], "price": Decimal("1.00"),
                                  "stock": 1, "attributes": {"k": n % 4}} for n in range(40)])
    errors = []

    def project(chunk):
        own = PostgresDatabase(migrated, max_connections=1)
        try:
            catalog.update_catalog_index(own, store, chunk)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            own.close()

    # Every thread projects every product, in its own order: the same rows and counters, racing.
    threads = [threading.Thread(target=project, args=(random.Random(i).sample(ids, len(ids)),)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert stored_counts(db) == counts_from_mongodb(store)


def test_a_deleted_product_left_in_the_index_is_dropped_when_a_listing_meets_it(db, store, make_product):
    keep, gone = make_product(name="Queda"), make_product(name="Se va")
    store.products.delete_one({"_id": gone["_id"]})  # deleted in MongoDB; the index entry remained
    assert [p.name for p in catalog.browse_catalog(db, store, query()).items] == ["Queda"]
    assert set(stored_entries(db)) == {str(keep["_id"])}


# --- every query a catalog page or a sweep sends is served by an index ----------------------------

class ExplainingCursor:
    """Wraps the reader's cursor: every SELECT is also EXPLAINed (same transaction, same settings)."""

    def __init__(self, cur, plans):
        self._cur, self._plans = cur, plans

    def execute(self, sql, params=None):
        reads_the_index = "catalog_entries" in sql or "catalog_postings" in sql
        if sql.lstrip().upper().startswith(("SELECT", "WITH")) and reads_the_index:
            self._cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = self._cur.fetchone()
            self._plans.append((sql, json.dumps(plan)))
        return self._cur.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self._cur, name)


@pytest.mark.parametrize("params", [
    {}, {"category": "Libros"}, {"category": "Libros", "attr.idioma": "es"},
    {"category": "Libros", "attr.idioma": "es", "attr.tapa": "dura"}, {"sort": "price_asc"},
    {"sort": "price_desc", "category": "Libros"}, {"q": "libro"}, {"q": "libro rojo"}, {"q": "zzz"},
    {"q": "Libro rojo 1"}, {"q": "lib", "sort": "price_asc"}, {"q": "lib"}, {"q": "rojo l"},
])
@pytest.mark.parametrize("few_matches", [1000, 0], ids=["gin-when-few", "always-walk"])
def test_every_listing_query_reads_an_index_never_the_whole_table(db, store, make_product, monkeypatch, params,
                                                                  few_matches):
    for n in range(30):
        make_product(name=f"Libro rojo {n}", category="Libros", attributes={"idioma": ["es", "en"][n % 2],
                                                                            "tapa": ["dura", "blanda"][n % 3 % 2]})
    with db.transaction() as cur:
        cur.execute("ANALYZE catalog_entries")
    monkeypatch.setattr(catalog_reader, "FEW_MATCHES", few_matches)
    plans: list = []
    original = CatalogReader.__init__
    monkeypatch.setattr(CatalogReader, "__init__", lambda self, cur: original(self, ExplainingCursor(cur, plans)))
    page = catalog.catalog_page(db, store, query(**params))
    listing = page.listing
    if listing.next_position is not None:  # the second page too
        catalog.browse_catalog(db, store, parse_catalog_query(
            {**{k: [v] for k, v in params.items()}, "after": [listing.next_position.token()]}))
    if params == {"q": "zzz"}:  # a word no product has: known from the term counters, nothing is read
        assert plans == [] and page.listing.items == []
    else:
        assert plans
    for sql, plan in plans:
        assert "Seq Scan" not in plan, f"{sql}\n{plan}"
        assert "Index" in plan, f"{sql}\n{plan}"
        if "EXISTS (SELECT 1 FROM catalog_postings" in sql:  # each posting checked by the key, index only
            assert "catalog_entries" not in plan and "Index Only Scan" in plan, f"{sql}\n{plan}"
    searched_by_name = "q" in params and params.get("sort", "name") == "name" and len(params) == 1
    if few_matches == 0 and searched_by_name and params["q"] != "zzz":  # many matches: the postings, merged
        postings = [plan for sql, plan in plans if "catalog_postings" in sql]
        assert postings and all("catalog_postings_pkey" in plan for plan in postings)


def test_the_recovery_pass_records_stock_by_primary_key_never_reading_every_entry(db, store, make_product):
    ids = [str(make_product(name=f"P{n}")["_id"]) for n in range(5)]
    with db.transaction() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")  # the only way left for an id compared as text
        cur.execute("EXPLAIN (FORMAT JSON) " + catalog_projection.RECORD_STOCK, (ids[:2], [1, 2]))
        plan = json.dumps(cur.fetchone())
    assert "catalog_entries_pkey" in plan and "Seq Scan" not in plan, plan
    assert db.catalog.record_stock([(ids[0], 7), (ids[1], 0)]) == set(ids[:2])
    assert db.catalog.low_stock(0, 10) == [ids[1]]


class FindRecorder(monitoring.CommandListener):
    def __init__(self):
        self.commands = []

    def started(self, event):
        if event.command_name in ("find", "update", "delete", "findAndModify"):
            self.commands.append((event.command_name, event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_mongodb_reads_of_a_catalog_page_and_a_recovery_pass_use_indexes(db, servers, mongo_db_name, make_product,
                                                                        make_user):
    from shop.services import checkout, reports

    recorder = FindRecorder()
    watched = MongoStore(servers.mongodb_url, mongo_db_name, event_listeners=[recorder])
    try:
        product = make_product(name="Taza", stock=5)
        customer = make_user()
        checkout.place_order(db, watched,
                             CheckoutRequest(customer.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4())))
        recorder.commands.clear()
        catalog.catalog_page(db, watched, query())
        recover(db, watched)
        assert [p.name for p in reports.low_stock(db, watched, 4)] == ["Taza"]  # the dashboard's list
        other = make_product(name="Sin pedidos")
        catalog.delete_product(db, watched, str(other["_id"]))
        # Updates and deletes are point operations: a plain filter on _id, never $or/$and beside it
        # (SecantusDB plans those as a collection scan: about 1 s per call at 100,000 products).
        for _, cmd in recorder.commands:
            statements = cmd.get("updates") or cmd.get("deletes") or []
            for statement in statements:
                assert "_id" in statement["q"] and not {"$or", "$and", "$nor"} & set(statement["q"]), statement
        finds = [cmd for name, cmd in recorder.commands if name == "find" and cmd.get("find") == "products"]
        assert finds
        for cmd in finds:
            plan = json.dumps(watched.db.command("explain", {"find": "products", "filter": cmd["filter"]},
                                                 verbosity="queryPlanner"), default=str)
            assert "COLLSCAN" not in plan, f"{cmd['filter']}: {plan}"
            assert "IXSCAN" in plan or "IDHACK" in plan or "EXPRESS" in plan, f"{cmd['filter']}: {plan}"
    finally:
        watched.close()


@pytest.mark.parametrize("params", [
    {"q": "libro"}, {"q": "rojo lib"}, {"q": "libro", "sort": "price_desc"},
    {"category": "Libros", "attr.idioma": "es"}, {"attr.tapa": "dura", "sort": "price_asc"}, {"q": "Libro azul 7"},
    {"q": "l"}, {"q": "1"}, {"q": "azul 1"},
])
@pytest.mark.parametrize("first_batch", [1, 100], ids=["postings-in-many-batches", "postings-in-one-batch"])
def test_a_walk_and_a_gin_lookup_list_the_same_products_page_by_page(db, store, make_product, monkeypatch, params,
                                                                     first_batch):
    monkeypatch.setattr(catalog_search, "FIRST_BATCH", first_batch)
    for n in range(40):
        make_product(name=f"Libro {['rojo', 'azul'][n % 2]} {n}", category=["Libros", "Otros"][n % 3 == 0],
                     price=f"{(n * 7) % 23 + 1}.00", attributes={"idioma": ["es", "en"][n % 2],
                                                                 "tapa": ["dura", "blanda"][n % 5 == 0]})

    def walk_all(few_matches):
        """Every page forwards, then every page backwards from the last (as Previous links go)."""
        monkeypatch.setattr(catalog_reader, "FEW_MATCHES", few_matches)
        pages, raw = [], {k: [v] for k, v in params.items()}
        while True:
            listing = catalog.browse_catalog(db, store, parse_catalog_query(raw, per_page=5))
            pages.append([p.name for p in listing.items])
            if listing.next_position is None:
                break
            raw = {**raw, "after": [listing.next_position.token()]}
        back = []
        while listing.previous_position is not None:
            raw = {**{k: [v] for k, v in params.items()}, "before": [listing.previous_position.token()]}
            listing = catalog.browse_catalog(db, store, parse_catalog_query(raw, per_page=5))
            back.insert(0, [p.name for p in listing.items])
        return pages, back

    (walked, walked_back), (looked_up, looked_up_back) = walk_all(0), walk_all(1000)
    names = [name for page in walked for name in page]
    assert walked == looked_up and len(names) == len(set(names)) and names
    assert walked_back == looked_up_back == walked[:-1]


def test_a_search_that_matches_nothing_asks_mongodb_nothing(db, servers, mongo_db_name, make_product):
    make_product(name="Taza de café")
    recorder = FindRecorder()
    watched = MongoStore(servers.mongodb_url, mongo_db_name, event_listeners=[recorder])
    try:
        page = catalog.catalog_page(db, watched, query(q="zzzzzz"))
        found = catalog.browse_catalog(db, watched, query(q="taza"))
    finally:
        watched.close()
    assert page.listing.items == [] and page.listing.total == 0
    assert [p.name for p in found.items] == ["Taza de café"]
    assert [name for name, _ in recorder.commands] == ["find"]  # the second search's documents only
