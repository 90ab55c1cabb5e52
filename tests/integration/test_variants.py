"""Variants on the real databases: each size has its own stock, taken, held, returned and restocked
exactly like a product's, and the product's stock is always the sum of its sizes'."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest

from shop.adapters.errors import SkuTaken
from shop.domain.accounts import Role
from shop.domain.errors import InvalidInput, NotFound
from shop.domain.listing import ATTRIBUTE_FILTER_PREFIX, CatalogEntry, parse_catalog_query
from shop.domain.orders import OrderStatus, OutOfStock
from shop.domain.refunds import RefundRequest
from shop.domain.variants import ProductOption, VariantDraft
from shop.services import checkout, orders, refunds
from shop.services.catalog import add_products, adjust_stock, catalog_page
from shop.services.checkout import CheckoutRequest
from shop.services.recovery import recover
from tests.catalog_counts import expected_counts, stored_counts
from tests.integration.invariant import assert_invariant_after_recovery
from tests.payments import pay, simulated_provider

CARD = "4242424242424242"


def ref(product, key: str) -> str:
    return f"{product['_id']}:{key}"


def place(db, store, user, lines):
    return checkout.place_order(db, store, CheckoutRequest(user.user_id, lines, str(uuid.uuid4())))


def sizes(store, product) -> dict[str, int]:
    doc = store.products.find_one({"_id": product["_id"]})
    assert doc["stock"] == sum(v["stock"] for v in doc["variants"].values()), "the total is not the sum of the sizes"
    return {v["values"][0]: v["stock"] for v in doc["variants"].values()}


def initial(product) -> dict[str, int]:
    """The invariant's starting point: the product's total and each size's stock."""
    return {str(product["_id"]): product["stock"],
            **{ref(product, key): v["stock"] for key, v in product["variants"].items()}}


def test_buying_a_size_takes_only_that_size_and_the_line_keeps_its_sku_label_and_price(db, store, make_user,
                                                                                      make_sized_product):
    shirt = make_sized_product(sizes={"S": ("CAM-S", 2), "M": ("CAM-M", 3), "XL": ("CAM-XL", 2, "24.90")})
    result = place(db, store, make_user(), [(ref(shirt, "v2"), 2), (ref(shirt, "v3"), 1)])
    assert result.status is OrderStatus.PENDING and result.total == Decimal("64.70")  # 2 × 19,90 + 24,90
    assert sizes(store, shirt) == {"S": 2, "M": 1, "XL": 1}
    items = sorted(db.orders.get(result.order_id).items, key=lambda item: item.variant)
    assert [(i.variant, i.sku, i.variant_label, i.unit_price, i.quantity) for i in items] == [
        ("v2", "CAM-M", "Talla: M", Decimal("19.90"), 2), ("v3", "CAM-XL", "Talla: XL", Decimal("24.90"), 1)]
    assert_invariant_after_recovery(db, store, initial(shirt))


def test_the_last_unit_of_one_size_goes_to_one_buyer_of_many_and_the_other_sizes_are_untouched(
        db, store, make_user, make_sized_product):
    shirt = make_sized_product(sizes={"S": ("CAM-S", 5), "M": ("CAM-M", 1)})
    buyers = [make_user() for _ in range(8)]
    outcomes: list[object] = []
    start = threading.Barrier(len(buyers))

    def buy(user):
        start.wait()
        try:
            outcomes.append(place(db, store, user, [(ref(shirt, "v2"), 1)]).status)
        except OutOfStock as refusal:
            outcomes.append(refusal)

    threads = [threading.Thread(target=buy, args=(user,)) for user in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(OrderStatus.PENDING) == 1
    assert all(isinstance(o, OutOfStock) and "Talla: M" in o.template % o.params for o in outcomes
               if o is not OrderStatus.PENDING)
    assert sizes(store, shirt) == {"S": 5, "M": 0}
    assert_invariant_after_recovery(db, store, initial(shirt))


def test_a_sold_out_size_is_refused_with_its_name_and_nothing_is_taken(db, store, make_user, make_sized_product):
    shirt = make_sized_product(sizes={"S": ("CAM-S", 2), "M": ("CAM-M", 0)})
    with pytest.raises(OutOfStock) as refused:
        place(db, store, make_user(), [(ref(shirt, "v1"), 1), (ref(shirt, "v2"), 1)])
    assert refused.value.params["name"] == "Camiseta (Talla: M)"
    assert sizes(store, shirt) == {"S": 2, "M": 0}
    assert_invariant_after_recovery(db, store, initial(shirt))


def test_a_product_sold_in_sizes_cannot_be_bought_without_choosing_one_nor_in_a_size_it_lacks(
        db, store, make_user, make_sized_product):
    shirt = make_sized_product()
    with pytest.raises(InvalidInput, match="Choose one of the options"):
        place(db, store, make_user(), [(str(shirt["_id"]), 1)])
    with pytest.raises(NotFound):
        place(db, store, make_user(), [(ref(shirt, "v9"), 1)])
    with pytest.raises(InvalidInput):
        place(db, store, make_user(), [(f"{shirt['_id']}:$gt", 1)])
    assert sizes(store, shirt) == {"S": 2, "M": 1, "L": 4}
    assert_invariant_after_recovery(db, store, initial(shirt))


def test_cancelling_returns_each_size_once_and_recovery_changes_nothing_more(db, store, make_user, make_sized_product):
    shirt = make_sized_product()
    customer = make_user()
    result = place(db, store, customer, [(ref(shirt, "v1"), 2), (ref(shirt, "v3"), 3)])
    assert sizes(store, shirt) == {"S": 0, "M": 1, "L": 1}
    orders.cancel_order(db, store, customer, result.order_id)
    orders.return_stock_of_cancelled(db, store, result.order_id)  # repeated, as a crashed retry would
    assert sizes(store, shirt) == {"S": 2, "M": 1, "L": 4}
    assert_invariant_after_recovery(db, store, initial(shirt))


def test_a_refund_with_the_goods_back_restocks_the_size_that_was_sold(db, store, make_user, make_sized_product):
    shirt = make_sized_product()
    customer, admin = make_user(), make_user(role=Role.ADMIN)
    result = place(db, store, customer, [(ref(shirt, "v2"), 1), (ref(shirt, "v3"), 2)])
    pay(db, customer, result.order_id)
    medium = next(i for i in db.orders.get(result.order_id).items if i.variant == "v2")
    outcome = refunds.refund_order(db, store, simulated_provider(), admin, result.order_id,
                                   RefundRequest({medium.order_item_id: 1}, "Talla equivocada", True),
                                   str(uuid.uuid4()), full=False)
    assert sizes(store, shirt) == {"S": 2, "M": 1, "L": 2}
    refunds.restock_refund(db, store, outcome.refund_id)
    assert sizes(store, shirt) == {"S": 2, "M": 1, "L": 2}  # once, however often it is asked
    # The returned M is stock received again: the order still counts the unit it sold.
    assert_invariant_after_recovery(db, store, {**initial(shirt), str(shirt["_id"]): 8, ref(shirt, "v2"): 2})


def test_staff_adjust_one_size_and_never_the_total_of_a_product_with_sizes(store, make_sized_product):
    shirt = make_sized_product()
    adjustment = adjust_stock(store, str(shirt["_id"]), 5, "Recibido", variant="v2")
    assert (adjustment.before, adjustment.after) == (1, 6)
    assert sizes(store, shirt) == {"S": 2, "M": 6, "L": 4}
    with pytest.raises(InvalidInput, match="Choose one of the options"):
        adjust_stock(store, str(shirt["_id"]), 5, "Recibido")
    assert sizes(store, shirt) == {"S": 2, "M": 6, "L": 4}


def test_an_sku_belongs_to_one_product_only(db, store, make_product, make_sized_product):
    make_sized_product()
    with pytest.raises(SkuTaken) as taken:
        make_product(name="Otra camiseta", sku="cam-m")
    assert set(taken.value.owners) == {"CAM-M"}
    with pytest.raises(InvalidInput, match="appears twice"):
        add_products(db, store, [{"name": "Doble", "price": Decimal("5.00"), "stock": 0, "category": "Ropa",
                                  "attributes": {}, "options": (ProductOption("Talla", ("S", "M")),),
                                  "variants": [VariantDraft(None, "X-1", ("S",), None, 1),
                                               VariantDraft(None, "X-1", ("M",), None, 1)]}])
    assert store.products.count_documents({"name": {"$in": ["Otra camiseta", "Doble"]}}) == 0


# --- the catalog index knows variants ----------------------------------------------------------------

def listed(db, store, talla=None, **params) -> list[str]:
    if talla is not None:
        params[f"{ATTRIBUTE_FILTER_PREFIX}talla"] = talla
    page = catalog_page(db, store, parse_catalog_query({k: [v] for k, v in params.items()}))
    return [product.name for product in page.listing.items]


def test_a_listing_filters_by_the_sizes_in_stock_and_finds_a_product_by_its_sku(db, store, make_product,
                                                                                make_sized_product):
    make_sized_product(name="Camiseta", sizes={"S": ("CAM-S", 2), "M": ("CAM-M", 0)})
    make_sized_product(name="Sudadera", price="39.90", sizes={"M": ("SUD-M", 1), "L": ("SUD-L", 1, "44.90")})
    make_product(name="Gorra", category="Ropa", sku="GOR-01")
    page = catalog_page(db, store, parse_catalog_query({"category": ["Ropa"]}))
    # sizes in stock somewhere, in size order, each with how many products have it in stock
    assert page.facets["talla"] == [("S", 1), ("M", 1), ("L", 1)]
    assert listed(db, store, category="Ropa", talla="M") == ["Sudadera"]  # the shirt's M is sold out
    assert listed(db, store, category="Ropa", talla="S") == ["Camiseta"]
    assert listed(db, store, q="sud-l") == ["Sudadera"] and listed(db, store, q="GOR-01") == ["Gorra"]
    assert listed(db, store, q="gor-01", category="Ropa") == ["Gorra"]  # an SKU: one lookup, not a word search
    assert listed(db, store, q="gor-01", category="Hogar") == []
    assert listed(db, store, sort="price_desc", category="Ropa")[0] == "Sudadera"  # listed at its lowest price
    assert counts_from_the_index_equal_a_recount(db, store)


def test_a_size_that_sells_out_leaves_the_filter_at_the_next_recovery_pass_and_comes_back_when_restocked(
        db, store, make_user, make_sized_product):
    shirt = make_sized_product(sizes={"S": ("CAM-S", 1), "M": ("CAM-M", 1)})
    place(db, store, make_user(), [(ref(shirt, "v2"), 1)])
    recover(db, store)
    assert listed(db, store, talla="M") == [] and listed(db, store, talla="S") == ["Camiseta"]
    adjust_stock(store, str(shirt["_id"]), 3, "Recibido", variant="v2")
    recover(db, store)
    assert listed(db, store, talla="M") == ["Camiseta"]
    assert counts_from_the_index_equal_a_recount(db, store)


def counts_from_the_index_equal_a_recount(db, store) -> bool:
    return stored_counts(db) == expected_counts(CatalogEntry.of(p) for p in store.catalog.everything_for_the_index())
