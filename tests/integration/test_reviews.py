"""Reviews: only buyers review, once each (editable), averages by aggregation, admins hide, text is text."""

import re
import uuid

import pytest

from shop.domain.accounts import Role
from shop.services import checkout
from shop.services.checkout import CheckoutRequest
from tests.conftest import csrf_token_from
from tests.payments import pay


def buy_and_pay(db, store, user, product):
    order_id = checkout.place_order(db, store,
                                    CheckoutRequest(user.user_id, [(str(product["_id"]), 1)],
                                                    str(uuid.uuid4()))).order_id
    pay(db, user, order_id)


def post_review(client, product, rating, text=""):
    token = csrf_token_from(client.get(f"/products/{product['_id']}").get_data(as_text=True))
    return client.post(f"/products/{product['_id']}/review", data={"csrf_token": token, "rating": rating,
                                                                   "text": text})


@pytest.fixture
def buyer(db, store, auth, make_user, make_product):
    product = make_product(name="Cafetera", stock=10)
    user = make_user(role=Role.CUSTOMER, email="compradora@example.com", name="Carla Compradora")
    buy_and_pay(db, store, user, product)
    auth.login("compradora@example.com")
    return user, product


def test_a_buyer_reviews_and_the_page_shows_average_count_and_text(client, buyer):
    _, product = buyer
    assert post_review(client, product, "4", "Hace un café estupendo").status_code == 303
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert "4,0 de 5 · 1 reseña" in html and "Hace un café estupendo" in html and "Carla Compradora" in html


def test_a_second_review_edits_the_first(client, buyer, store):
    _, product = buyer
    post_review(client, product, "2", "Regular")
    post_review(client, product, "5", "Mejor de lo que pensaba")
    assert store.reviews.collection.count_documents({}) == 1
    assert store.reviews.summary(str(product["_id"])) == (5.0, 1)


def test_the_average_comes_from_every_visible_review(client, db, store, buyer, make_user):
    _, product = buyer
    post_review(client, product, "5")
    other = make_user(role=Role.CUSTOMER)
    buy_and_pay(db, store, other, product)
    store.reviews.save(str(product["_id"]), other.user_id, "Otro", 2, "")
    assert store.reviews.summary(str(product["_id"])) == (3.5, 2)


def test_someone_who_did_not_buy_cannot_review(client, auth, make_user, make_product, store, db):
    product = make_product(stock=3)
    user = make_user(role=Role.CUSTOMER, email="curiosa@example.com")
    checkout.place_order(db, store,
                         CheckoutRequest(user.user_id, [(str(product["_id"]), 1)], str(uuid.uuid4())))  # not paid
    auth.login("curiosa@example.com")
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert 'name="rating"' not in html
    response = post_review(client, product, "5", "Sin comprar")
    assert response.status_code == 409 and "una vez que lo hayas comprado y pagado" in response.get_data(as_text=True)
    assert store.reviews.collection.count_documents({}) == 0


@pytest.mark.parametrize("rating", ["0", "6", "4.5", "cinco", "", {"$gt": 0}])
def test_impossible_ratings_are_refused(client, buyer, store, rating):
    _, product = buyer
    response = post_review(client, product, rating)
    assert response.status_code == 400 and "de 1 a 5 estrellas" in response.get_data(as_text=True)
    assert store.reviews.collection.count_documents({}) == 0


def test_an_overlong_review_is_refused(client, buyer, store):
    _, product = buyer
    assert post_review(client, product, "3", "x" * 2001).status_code == 400
    assert store.reviews.collection.count_documents({}) == 0


def test_markup_in_a_review_is_shown_as_text(client, buyer):
    _, product = buyer
    post_review(client, product, "1", "<script>alert('xss')</script>")
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html


def test_an_admin_hides_a_review_and_the_audit_log_records_it(client, auth, buyer, make_user, store, app):
    _, product = buyer
    post_review(client, product, "1", "Ofensivo")
    auth.logout()
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    review_id = re.search(r'/reviews/([0-9a-f]{24})/hide', html).group(1)
    assert client.post(f"/reviews/{review_id}/hide", data={"csrf_token": csrf_token_from(html)}).status_code == 303
    html = client.get(f"/products/{product['_id']}").get_data(as_text=True)
    assert "Ofensivo" not in html and "Sin reseñas todavía" in html
    from shop.web.extensions import get_audit_log

    with app.app_context():
        get_audit_log().flush_spool()
    hidden = [e for e in store.audit.entries() if e["action"] == "review.hidden"]
    assert len(hidden) == 1 and hidden[0]["target"] == f"review:{review_id}" and hidden[0]["actor_role"] == "admin"


def test_hiding_an_unknown_review_is_a_404(client, auth, make_user):
    make_user(role=Role.ADMIN, email="admin@example.com")
    auth.login("admin@example.com")
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/reviews/0123456789abcdef01234567/hide", data={"csrf_token": token}).status_code == 404
    assert client.post("/reviews/nope/hide", data={"csrf_token": token}).status_code == 404
