"""Staff endpoints for the catalog and the terms of sale (an ERP or a PIM keeping products, variants,
images, discount codes and shipping methods in step with the shop): scope `catalog:read` to read,
`catalog:write` to change. The same services and the same validation as the staff pages (a JSON body
is handed to the form's rules, so both refuse alike), audited the same way, and each product change
tells the webhook subscribers of `product.updated`."""

from __future__ import annotations

import base64
import binascii
import json as jsonlib

from flask import request
from spectree import Response

from shop.domain.accounts import Role
from shop.domain.api_access import Scope
from shop.domain.catalog import Product, parse_attributes
from shop.domain.discounts import DiscountCode, customer_email_of, parse_discount_form
from shop.domain.errors import N_, InvalidInput, NotFound
from shop.domain.images import MAX_UPLOAD_BYTES
from shop.domain.listing import parse_catalog_query
from shop.domain.shipping import ShippingMethod
from shop.domain.variants import MAX_OPTIONS, parse_options, parse_variant_rows
from shop.services import catalog as catalog_service
from shop.services import discounts as discount_service
from shop.services import images as image_service
from shop.services import shipping as shipping_service
from shop.web.access import STAFF, roles_required
from shop.web.api_v1.blueprint import bp
from shop.web.api_v1.credentials import scope_required
from shop.web.api_v1.openapi import spec
from shop.web.api_v1.schemas import (
    ActiveIn,
    DiscountCodeIn,
    DiscountCodeList,
    DiscountCodeOut,
    Image,
    ImageIn,
    ImagePatch,
    ProductIn,
    ProductPatch,
    RemovedOut,
    ShippingMethodIn,
    ShippingMethodList,
    ShippingMethodOut,
    StaffCatalogParams,
    StaffProduct,
    StaffProductPage,
    VariantsIn,
)
from shop.web.api_v1.store import detail_fields, image_out
from shop.web.auditing import audit
from shop.web.catalog import forget_product
from shop.web.extensions import get_db, get_store
from shop.web.security import allows_body
from shop.web.staff_products import tell_subscribers_product_changed

_CATALOG, _TERMS = "staff catalog", "staff terms of sale"
_BASE64_OVERHEAD = 4 / 3
_JSON_ENVELOPE = 64 * 1024


def _staff_product(product_id: str) -> StaffProduct:
    item = catalog_service.product_detail(get_store(), product_id, include_archived=True)
    return _as_staff(item)


def _as_staff(item: Product) -> StaffProduct:
    return StaffProduct(**detail_fields(item), archived=item.deleted, revision=item.updated_at)


def _attributes(value: dict | None) -> dict:
    """Attributes from JSON, checked by the same rules as the form's JSON editor."""
    return parse_attributes(jsonlib.dumps(value or {}))


def _changed(product_id: str, action: str, changes: dict, fields: list[str]) -> None:
    forget_product(product_id)
    if changes:
        audit(action, f"product:{product_id}", changes=changes, via="api")
        tell_subscribers_product_changed(product_id, fields)


# --- products ------------------------------------------------------------------------------------------

@bp.get("/admin/products")
@roles_required(*STAFF)
@scope_required(Scope.CATALOG_READ)
@spec.validate(query=StaffCatalogParams, resp=Response(HTTP_200=StaffProductPage), tags=[_CATALOG])
def staff_products(query: StaffCatalogParams):
    """The catalog as staff see it: the home page's filters and keyset pages, and `archived=true` for
    the products taken off sale. Scope `catalog:read`."""
    args = {name: values for name, values in request.args.to_dict(flat=False).items()
            if name not in ("limit", "archived")}
    listing = catalog_service.browse_catalog(get_db(), get_store(), parse_catalog_query(args, per_page=query.limit),
                                             archived=query.archived)
    return StaffProductPage(
        items=[_as_staff(item) for item in listing.items], total=listing.total,
        total_is_exact=listing.total_is_exact,
        next_cursor=listing.next_position.token() if listing.next_position else None,
        previous_cursor=listing.previous_position.token() if listing.previous_position and listing.has_previous
        else None)


@bp.get("/admin/products/<product_id>")
@roles_required(*STAFF)
@scope_required(Scope.CATALOG_READ)
@spec.validate(resp=Response(HTTP_200=StaffProduct), tags=[_CATALOG])
def staff_product(product_id: str):
    """A product, archived or not, with its `revision` for an edit. Scope `catalog:read`."""
    return _staff_product(product_id)


@bp.post("/admin/products")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ProductIn, resp=Response(HTTP_201=StaffProduct), tags=[_CATALOG])
def create_product(json: ProductIn):
    """A new product, on sale at once. Scope `catalog:write`."""
    fields = {"name": json.name, "category": json.category, "price": json.price, "description": json.description,
              "attributes": _attributes(json.attributes), "tax_class": json.tax_class, "stock": json.stock,
              "sku": json.sku}
    product_id, stored = catalog_service.create_product(get_db(), get_store(), fields)
    audit("product.created", f"product:{product_id}", after=stored, via="api")
    return _staff_product(product_id), 201


@bp.patch("/admin/products/<product_id>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ProductPatch, resp=Response(HTTP_200=StaffProduct), tags=[_CATALOG])
def update_product(product_id: str, json: ProductPatch):
    """Changes the fields sent; the others keep their value. With `revision`, an edit made by someone
    else since that revision is refused (409) instead of overwritten. Scope `catalog:write`."""
    current = catalog_service.product_detail(get_store(), product_id, include_archived=True)
    fields = {"name": current.name if json.name is None else json.name,
              "category": current.category if json.category is None else json.category,
              "price": current.price if json.price is None else json.price,
              "description": current.description if json.description is None else json.description,
              "attributes": dict(current.attributes) if json.attributes is None else _attributes(json.attributes),
              "tax_class": json.tax_class or current.tax_class}
    change = catalog_service.edit_product(get_db(), get_store(), product_id, fields,
                                          json.revision or current.updated_at)
    _changed(change.product_id, "product.updated", change.changed, sorted(change.changed))
    return _staff_product(change.product_id)


@bp.delete("/admin/products/<product_id>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(resp=Response(HTTP_200=RemovedOut), tags=[_CATALOG])
def remove_product(product_id: str):
    """Takes a product off sale: deleted for good if no order ever referenced it, archived otherwise
    (restore it with `POST …/restore`). Scope `catalog:write`."""
    outcome, before = catalog_service.delete_product(get_db(), get_store(), product_id)
    forget_product(product_id)
    audit(f"product.{outcome}", f"product:{product_id}", before=before, via="api")
    return RemovedOut(outcome="deleted" if outcome == "deleted" else "archived")


@bp.post("/admin/products/<product_id>/restore")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(resp=Response(HTTP_200=StaffProduct), tags=[_CATALOG])
def restore_product(product_id: str):
    """Puts an archived product back on sale. Scope `catalog:write`."""
    catalog_service.restore_product(get_db(), get_store(), product_id)
    product = _staff_product(product_id)
    forget_product(product.id)
    audit("product.restored", f"product:{product.id}", via="api")
    return product


@bp.put("/admin/products/<product_id>/variants")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=VariantsIn, resp=Response(HTTP_200=StaffProduct), tags=[_CATALOG])
def put_variants(product_id: str, json: VariantsIn):
    """Sets what the product is sold as: its options and the whole list of its variants (those not
    listed are removed, only at stock 0). Existing variants (by `key`) keep their stock; new ones start
    with theirs. Scope `catalog:write`."""
    options = parse_options([(option.name, ",".join(option.values)) for option in json.options])
    columns = [[variant.values.get(option.name, "") for variant in json.variants] for option in options]
    columns += [[""] * len(json.variants)] * (MAX_OPTIONS - len(columns))
    drafts = parse_variant_rows(options, [variant.key or "" for variant in json.variants],
                                [variant.sku for variant in json.variants], columns,
                                [variant.price or "" for variant in json.variants],
                                [str(variant.stock) for variant in json.variants])
    current = catalog_service.product_detail(get_store(), product_id, include_archived=True)
    change = catalog_service.edit_variants(get_db(), get_store(), product_id, options, drafts, json.sku,
                                           json.revision or current.updated_at)
    _changed(change.product_id, "product.variants_changed", change.changed, ["variants"])
    return _staff_product(change.product_id)


# --- images --------------------------------------------------------------------------------------------

def _image_bytes(text: str) -> bytes:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(N_("The image must be sent Base64-encoded.")) from None
    return data[:MAX_UPLOAD_BYTES + 1]  # the image rules refuse anything longer, naming the limit


@bp.post("/admin/products/<product_id>/images")
@allows_body(int(MAX_UPLOAD_BYTES * _BASE64_OVERHEAD) + _JSON_ENVELOPE)
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ImageIn, resp=Response(HTTP_201=Image), tags=[_CATALOG])
def add_image(product_id: str, json: ImageIn):
    """Adds an image (JPEG, PNG or WebP, Base64 in `data`), last in the product's list; the first one
    is the main one. The shop keeps it as WebP in several sizes. Scope `catalog:write`."""
    image = image_service.add_image(get_store(), product_id, _image_bytes(json.data), json.alt)
    forget_product(product_id)
    audit("product.image_added", f"product:{product_id}", image=image.image_id, alt=image.alt, width=image.width,
          height=image.height, via="api")
    tell_subscribers_product_changed(product_id, ["images"])
    return image_out(image), 201


@bp.patch("/admin/products/<product_id>/images/<image_id>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ImagePatch, resp=Response(HTTP_200=StaffProduct), tags=[_CATALOG])
def change_image(product_id: str, image_id: str, json: ImagePatch):
    """Changes an image's alt text and the variant it shows, and makes it the main one with `main`.
    Scope `catalog:write`."""
    store = get_store()
    if json.alt is not None or json.variant is not None:
        current = next((image for image in catalog_service.product_detail(store, product_id, include_archived=True)
                        .images if image.image_id == image_id), None)
        described = image_service.describe_image(
            store, product_id, image_id, json.alt if json.alt is not None else (current.alt if current else ""),
            json.variant if json.variant is not None else (current.variant if current else None))
        audit("product.image_described", f"product:{product_id}", image=described.image_id, alt=described.alt,
              via="api", **({"variant": described.variant} if described.variant else {}))
    if json.main:
        image_service.make_main(store, product_id, image_id)
        audit("product.image_made_main", f"product:{product_id}", image=image_id, via="api")
    forget_product(product_id)
    tell_subscribers_product_changed(product_id, ["images"])
    return _staff_product(product_id)


@bp.delete("/admin/products/<product_id>/images/<image_id>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(resp=Response("HTTP_204"), tags=[_CATALOG])
def remove_image(product_id: str, image_id: str):
    """Takes an image off the product. Scope `catalog:write`."""
    image = image_service.remove_image(get_store(), product_id, image_id)
    forget_product(product_id)
    audit("product.image_removed", f"product:{product_id}", image=image.image_id, via="api")
    tell_subscribers_product_changed(product_id, ["images"])
    return "", 204


# --- discount codes ------------------------------------------------------------------------------------

def _discount_out(code: DiscountCode) -> DiscountCodeOut:
    return DiscountCodeOut(code=code.code, kind=code.kind, value=f"{code.value:.2f}",  # type: ignore[arg-type]
                           min_order=f"{code.min_order:.2f}", starts_at=code.starts_at, ends_at=code.ends_at,
                           max_uses=code.max_uses, max_uses_per_customer=code.max_uses_per_customer,
                           categories=list(code.categories), active=code.active, uses=code.uses,
                           customer_id=code.user_id)


def _discount(code: str) -> DiscountCodeOut:
    found = get_db().discounts.get(code)
    if found is None:
        raise NotFound(N_("That discount code does not exist."))
    return _discount_out(found)


@bp.get("/admin/discount-codes")
@roles_required(*STAFF)
@scope_required(Scope.CATALOG_READ)
@spec.validate(resp=Response(HTTP_200=DiscountCodeList), tags=[_TERMS])
def discount_codes():
    """Every discount code, newest first, with the uses orders hold. Scope `catalog:read`."""
    return DiscountCodeList(items=[_discount_out(code) for code in get_db().discounts.all()])


@bp.post("/admin/discount-codes")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=DiscountCodeIn, resp=Response(HTTP_201=DiscountCodeOut), tags=[_TERMS])
def create_discount_code(json: DiscountCodeIn):
    """A new code: a percentage or a fixed amount, with an optional minimum order, dates (from `starts`
    to the start of `ends`, UTC), limits of uses, categories, and one customer it is for. Scope
    `catalog:write`."""
    form = {"code": json.code, "kind": json.kind, "value": json.value, "min_order": json.min_order,
            "starts": json.starts.isoformat() if json.starts else "",
            "ends": json.ends.isoformat() if json.ends else "",
            "max_uses": str(json.max_uses or ""), "max_uses_per_customer": str(json.max_uses_per_customer or ""),
            "categories": ",".join(json.categories), "customer_email": json.customer_email or ""}
    if any("," in category for category in json.categories):
        raise InvalidInput(N_("List at most 20 categories, separated by commas."))
    discount = parse_discount_form(form)
    discount_service.create_discount_code(get_db(), discount, customer_email_of(form))
    audit("discount.created", f"discount:{discount.code}", kind=discount.kind, value=str(discount.value),
          max_uses=discount.max_uses, per_customer=discount.max_uses_per_customer,
          categories=list(discount.categories), via="api")
    return _discount(discount.code), 201


@bp.patch("/admin/discount-codes/<code>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ActiveIn, resp=Response(HTTP_200=DiscountCodeOut), tags=[_TERMS])
def set_discount_code_active(code: str, json: ActiveIn):
    """Switches a code on or off: an inactive code is refused to new orders. Scope `catalog:write`."""
    code = discount_service.set_discount_code_active(get_db(), code, json.active)
    audit("discount.activated" if json.active else "discount.deactivated", f"discount:{code}", via="api")
    return _discount(code)


# --- shipping methods ----------------------------------------------------------------------------------

def _method_out(method: ShippingMethod) -> ShippingMethodOut:
    return ShippingMethodOut(id=method.method_id, name=method.name, price=f"{method.price:.2f}",
                             free_above=None if method.free_above is None else f"{method.free_above:.2f}",
                             countries=list(method.countries), active=method.active)


@bp.get("/admin/shipping-methods")
@roles_required(*STAFF)
@scope_required(Scope.CATALOG_READ)
@spec.validate(resp=Response(HTTP_200=ShippingMethodList), tags=[_TERMS])
def shipping_methods():
    """Every shipping method, offered or not. Scope `catalog:read`."""
    return ShippingMethodList(items=[_method_out(method) for method in get_db().shipping.methods()])


@bp.post("/admin/shipping-methods")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ShippingMethodIn, resp=Response(HTTP_201=ShippingMethodOut), tags=[_TERMS])
def create_shipping_method(json: ShippingMethodIn):
    """A new shipping method, offered at once to the countries listed (EU codes). Scope `catalog:write`."""
    form = {"name": json.name, "price": json.price, "free_above": json.free_above or "",
            "countries": ",".join(json.countries)}
    method_id = shipping_service.create_shipping_method(get_db(), form)
    audit("shipping_method.created", f"shipping_method:{method_id}", name=json.name, via="api")
    method = get_db().shipping.method(method_id)
    if method is None:
        raise NotFound(N_("That shipping method does not exist."))
    return _method_out(method), 201


@bp.patch("/admin/shipping-methods/<int(max=2147483647):method_id>")
@roles_required(Role.ADMIN)
@scope_required(Scope.CATALOG_WRITE)
@spec.validate(json=ActiveIn, resp=Response(HTTP_200=ShippingMethodOut), tags=[_TERMS])
def set_shipping_method_active(method_id: int, json: ActiveIn):
    """Offers a method again, or stops offering it to new orders. Scope `catalog:write`."""
    method = shipping_service.set_shipping_method_active(get_db(), method_id, json.active)
    audit("shipping_method.activated" if json.active else "shipping_method.deactivated",
          f"shipping_method:{method_id}", via="api")
    return _method_out(method)
