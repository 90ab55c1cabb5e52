"""Reviews: customers rate what they bought; staff can hide a review."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.adapters.postgres import PostgresDatabase
from shop.domain.accounts import Role, User
from shop.domain.catalog import parse_product_id
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.reviews import Review, parse_review


def may_review(db: PostgresDatabase, user: User | None, product_id: str) -> bool:
    return user is not None and user.role is Role.CUSTOMER and db.orders.has_bought(user.user_id, product_id)


def write_review(db: PostgresDatabase, store: MongoStore, user: User, raw_product_id: str, raw_rating: object,
                 raw_text: object) -> None:
    """Create or edit the customer's review of a product they paid for."""
    product_id = parse_product_id(raw_product_id)
    if store.catalog.get(product_id) is None:
        raise NotFound(N_("That product does not exist or is no longer sold."))
    review = parse_review(raw_rating, raw_text)
    if not may_review(db, user, product_id):
        raise Conflict(N_("You can review a product once you have bought and paid for it."))
    store.reviews.save(product_id, user.user_id, user.full_name, review.rating, review.text)


def hide_review(store: MongoStore, raw_review_id: str) -> Review:
    try:
        review_id = parse_product_id(raw_review_id)  # the same ObjectId form
    except InvalidInput:
        raise NotFound(N_("Review not found.")) from None
    review = store.reviews.hide(review_id)
    if review is None:
        raise NotFound(N_("Review not found."))
    return review
