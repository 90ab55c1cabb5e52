"""Product reviews in MongoDB (`store.reviews`): one per customer and product (a unique index),
hidden rather than deleted by staff, summarised by aggregation."""

from __future__ import annotations

import datetime as dt

from bson import ObjectId

from shop.adapters.mongo.errors import translates_errors
from shop.domain.reviews import Review


def _review(doc: dict) -> Review:
    return Review(review_id=str(doc["_id"]), product_id=str(doc["product_id"]), user_id=doc["user_id"],
                  author=doc.get("author", ""), rating=doc["rating"], text=doc.get("text", ""),
                  created_at=doc["created_at"], hidden=bool(doc.get("hidden")))


@translates_errors
class Reviews:
    def __init__(self, collection):
        self.collection = collection  # the reviews collection

    def save(self, product_id: str, user_id: int, author: str, rating: int, text: str) -> None:
        """One review per customer and product (unique index): a second one replaces the first."""
        now = dt.datetime.now(dt.UTC)
        self.collection.update_one(
            {"product_id": ObjectId(product_id), "user_id": user_id},
            {"$set": {"rating": rating, "text": text, "author": author, "updated_at": now},
             "$setOnInsert": {"created_at": now, "hidden": False}},
            upsert=True,
        )

    def summary(self, product_id: str) -> tuple[float | None, int]:
        """(average rating, number of visible reviews) by aggregation."""
        rows = list(self.collection.aggregate([
            {"$match": {"product_id": ObjectId(product_id), "hidden": {"$ne": True}}},
            {"$group": {"_id": None, "average": {"$avg": "$rating"}, "count": {"$sum": 1}}},
        ]))
        return (rows[0]["average"], rows[0]["count"]) if rows else (None, 0)

    def of(self, product_id: str, *, include_hidden: bool = False, limit: int = 50) -> list[Review]:
        query: dict = {"product_id": ObjectId(product_id)}
        if not include_hidden:
            query["hidden"] = {"$ne": True}
        docs = self.collection.find(query).sort([("created_at", -1), ("_id", -1)]).limit(limit)
        return [_review(doc) for doc in docs]

    def by(self, product_id: str, user_id: int) -> Review | None:
        doc = self.collection.find_one({"product_id": ObjectId(product_id), "user_id": user_id})
        return _review(doc) if doc else None

    def hide(self, review_id: str) -> Review | None:
        """Hide a review; returns it as it was, or None if there is no such review."""
        before = self.collection.find_one({"_id": ObjectId(review_id)})
        if before is not None:
            self.collection.update_one({"_id": ObjectId(review_id)}, {"$set": {"hidden": True}})
        return _review(before) if before else None
