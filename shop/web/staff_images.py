"""Staff manage a product's images from its edit page: add one (with its alt text), describe it,
make it the main one, remove it. Each change is audited; the product's page is read anew after it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from shop.domain.accounts import Role
from shop.domain.errors import N_, Conflict, InvalidInput, NotFound
from shop.domain.images import MAX_UPLOAD_BYTES
from shop.services import images as image_service
from shop.web.access import roles_required
from shop.web.auditing import audit
from shop.web.catalog import forget_product
from shop.web.errors import translate_error
from shop.web.extensions import get_store
from shop.web.security import allows_body

bp = Blueprint("staff_images", __name__, url_prefix="/admin/products/<product_id>/images")
_REFUSALS = (InvalidInput, Conflict, NotFound)
_FORM_OVERHEAD = 64 * 1024  # the multipart envelope and the other fields


def _back(product_id: str, message: str, category: str) -> Response:
    flash(message, category)
    return redirect(url_for("staff_products.edit", product_id=product_id, _anchor="images"), 303)


@bp.post("")
@allows_body(MAX_UPLOAD_BYTES + _FORM_OVERHEAD)
@roles_required(Role.ADMIN)
def add(product_id: str) -> Response:
    upload = request.files.get("image")
    try:
        if upload is None or not upload.filename:
            raise InvalidInput(N_("Choose an image file to upload."))
        image = image_service.add_image(get_store(), product_id, upload.read(MAX_UPLOAD_BYTES + 1),
                                        request.form.get("alt"))
    except _REFUSALS as error:
        return _back(product_id, translate_error(error), "danger")
    forget_product(product_id)
    audit("product.image_added", f"product:{product_id}", image=image.image_id, alt=image.alt,
          width=image.width, height=image.height)
    return _back(product_id, gettext("Image added."), "success")


@bp.post("/<image_id>/main")
@roles_required(Role.ADMIN)
def make_main(product_id: str, image_id: str) -> Response:
    try:
        image = image_service.make_main(get_store(), product_id, image_id)
    except _REFUSALS as error:
        return _back(product_id, translate_error(error), "danger")
    forget_product(product_id)
    audit("product.image_made_main", f"product:{product_id}", image=image.image_id)
    return _back(product_id, gettext("That image is now the main one."), "success")


@bp.post("/<image_id>/alt")
@roles_required(Role.ADMIN)
def describe(product_id: str, image_id: str) -> Response:
    try:
        image = image_service.describe_image(get_store(), product_id, image_id, request.form.get("alt"),
                                             request.form.get("variant"))
    except _REFUSALS as error:
        return _back(product_id, translate_error(error), "danger")
    forget_product(product_id)
    audit("product.image_described", f"product:{product_id}", image=image.image_id, alt=image.alt,
          **({"variant": image.variant} if image.variant else {}))
    return _back(product_id, gettext("Description saved."), "success")


@bp.post("/<image_id>/delete")
@roles_required(Role.ADMIN)
def remove(product_id: str, image_id: str) -> Response:
    try:
        image = image_service.remove_image(get_store(), product_id, image_id)
    except _REFUSALS as error:
        return _back(product_id, translate_error(error), "danger")
    forget_product(product_id)
    audit("product.image_removed", f"product:{product_id}", image=image.image_id)
    return _back(product_id, gettext("Image removed."), "info")
