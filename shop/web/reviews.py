"""Reviews on product pages: customers who paid rate and review; admins hide."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext
from flask_login import current_user

from shop.domain.accounts import Role
from shop.domain.errors import Conflict, InvalidInput
from shop.services import reviews as review_service
from shop.web.access import roles_required
from shop.web.auditing import audit
from shop.web.catalog import forget_product, render_product
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_db, get_store

bp = Blueprint("reviews", __name__)


@bp.post("/products/<product_id>/review")
@roles_required(Role.CUSTOMER)
def write(product_id: str):
    try:
        review_service.write_review(get_db(), get_store(), current_user.user, product_id,
                                    request.form.get("rating"), request.form.get("text", ""))
    except (InvalidInput, Conflict) as error:
        return render_product(product_id, review_error=translate_error(error)), status_for(error)
    forget_product(product_id)
    flash(gettext("Thank you: your review is published."), "success")
    return redirect(url_for("catalog.product", product_id=product_id, _anchor="reviews"), 303)


@bp.post("/reviews/<review_id>/hide")
@roles_required(Role.ADMIN)
def hide(review_id: str):
    review = review_service.hide_review(get_store(), review_id)
    forget_product(review.product_id)
    audit("review.hidden", f"review:{review_id}", product=review.product_id, author=review.user_id,
          rating=review.rating)
    flash(gettext("The review is hidden."), "info")
    return redirect(url_for("catalog.product", product_id=review.product_id, _anchor="reviews"), 303)
