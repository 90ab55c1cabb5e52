"""Review rules: who may review, and what a review is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shop.domain.errors import N_, InvalidInput

MAX_REVIEW_LENGTH = 2000


@dataclass(frozen=True)
class Review:
    """A customer's rating of a product they bought, as stored (one per customer and product)."""

    review_id: str
    product_id: str
    user_id: int
    author: str
    rating: int
    text: str
    created_at: dt.datetime
    hidden: bool = False


@dataclass(frozen=True)
class ReviewInput:
    rating: int
    text: str


def parse_review(raw_rating: object, raw_text: object) -> ReviewInput:
    """A rating from 1 to 5 stars and an optional text of at most MAX_REVIEW_LENGTH characters."""
    if not isinstance(raw_rating, str) or raw_rating.strip() not in {"1", "2", "3", "4", "5"}:
        raise InvalidInput(N_("Choose a rating from 1 to 5 stars."))
    text = " ".join(raw_text.split()) if isinstance(raw_text, str) else ""
    if len(text) > MAX_REVIEW_LENGTH:
        raise InvalidInput(N_("A review can have at most %(max)d characters."), max=MAX_REVIEW_LENGTH)
    return ReviewInput(rating=int(raw_rating), text=text)
