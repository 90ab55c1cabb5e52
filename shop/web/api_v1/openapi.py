"""The OpenAPI 3.1 document of /api/v1, written from the code by spectree, and its page.

spectree (rather than apiflask, flask-smorest or flask-openapi3) because it decorates the plain
Flask views and blueprint the shop already has — no application class to replace — validates
requests with pydantic models, and writes OpenAPI 3.1 from those models (docs/api.md says more).

A request that does not fit its model never reaches the view: it is answered 400 with an RFC 9457
problem listing each field's error. Answers are checked against their models too: a view that
drifted from its document answers 500 (logged with what did not fit) rather than break a client.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from flask import current_app, render_template, request, url_for
from flask_babel import gettext
from pydantic import ValidationError
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import InType, SecureType
from werkzeug.exceptions import UnsupportedMediaType

from shop.domain.errors import N_, InvalidInput
from shop.web.access import public
from shop.web.api_v1.blueprint import bp
from shop.web.api_v1.schemas import PRODUCT_ID_PATTERN, PRODUCT_REF_PATTERN, Problem
from shop.web.extensions import shop_settings

API_VERSION = "1.0.0"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_DESCRIPTIONS = {
    "400": "Bad input: `errors` lists each field's problem",
    "401": "No credentials, or they are not valid (WWW-Authenticate says which)",
    "403": "The caller's role, or the key's scopes, do not allow this",
    "404": "Not found (or not yours)",
    "406": "Only JSON (or, for an invoice, HTML or PDF) can be answered",
    "409": "Conflicts with the current state (out of stock, the same Idempotency-Key with another body, …)",
    "415": "The body must be JSON (Content-Type: application/json)",
    "429": "Too many requests: wait Retry-After seconds",
    "503": "A database is not answering: try again",
}


# Path parameters whose rules werkzeug's converters cannot state (spectree documents those by converter)
_PATH_PATTERNS = {"product_id": PRODUCT_ID_PATTERN, "ref": PRODUCT_REF_PATTERN, "image_id": r"^[0-9a-f]{64}$",
                  "code": r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$"}


# OpenAPI links: what an answer lets a client (and schemathesis' stateful phase) call next
_FIRST_PRODUCT = "$response.body#/items/0/id"
_NEW_ORDER = "$response.body#/id"
_NEW_PRODUCT = {"product_id": "$response.body#/id"}
_LINKS = {
    ("/api/v1/products", "get", "200"): {
        "ProductDetail": {"operationId": "get__api_v1_products_{product_id}",
                          "parameters": {"product_id": _FIRST_PRODUCT}},
        "PutInCart": {"operationId": "put__api_v1_cart_items_{ref}", "parameters": {"ref": _FIRST_PRODUCT}},
        "BuyFirst": {"operationId": "post__api_v1_checkout",
                     "requestBody": {"items": [{"product_id": _FIRST_PRODUCT, "quantity": 1}]}},
    },
    ("/api/v1/checkout", "post", "201"): {
        "Order": {"operationId": "get__api_v1_orders_{order_id}", "parameters": {"order_id": _NEW_ORDER}},
        "Cancel": {"operationId": "post__api_v1_orders_{order_id}_cancel", "parameters": {"order_id": _NEW_ORDER}},
        "Invoice": {"operationId": "get__api_v1_orders_{order_id}_invoice", "parameters": {"order_id": _NEW_ORDER}},
        "Pay": {"operationId": "post__api_v1_orders_{order_id}_payment", "parameters": {"order_id": _NEW_ORDER}},
    },
    ("/api/v1/admin/orders", "get", "200"): {
        "Ship": {"operationId": "post__api_v1_admin_orders_{order_id}_ship",
                 "parameters": {"order_id": "$response.body#/items/0/id"}},
        "Refund": {"operationId": "post__api_v1_admin_orders_{order_id}_refunds",
                   "parameters": {"order_id": "$response.body#/items/0/id"}},
    },
    ("/api/v1/admin/products", "get", "200"): {
        "Read": {"operationId": "get__api_v1_admin_products_{product_id}",
                 "parameters": {"product_id": _FIRST_PRODUCT}},
        "Restore": {"operationId": "post__api_v1_admin_products_{product_id}_restore",
                    "parameters": {"product_id": _FIRST_PRODUCT}},
    },
    ("/api/v1/admin/products", "post", "201"): {
        "Read": {"operationId": "get__api_v1_admin_products_{product_id}", "parameters": _NEW_PRODUCT},
        "Edit": {"operationId": "patch__api_v1_admin_products_{product_id}", "parameters": _NEW_PRODUCT},
        "Variants": {"operationId": "put__api_v1_admin_products_{product_id}_variants", "parameters": _NEW_PRODUCT},
        "AddImage": {"operationId": "post__api_v1_admin_products_{product_id}_images", "parameters": _NEW_PRODUCT},
        "Restock": {"operationId": "post__api_v1_admin_products_{product_id}_stock", "parameters": _NEW_PRODUCT},
        "Remove": {"operationId": "delete__api_v1_admin_products_{product_id}", "parameters": _NEW_PRODUCT},
    },
    ("/api/v1/admin/products/{product_id}/images", "post", "201"): {
        "Describe": {"operationId": "patch__api_v1_admin_products_{product_id}_images_{image_id}",
                     "parameters": {"product_id": "$request.path.product_id", "image_id": "$response.body#/id"}},
        "RemoveImage": {"operationId": "delete__api_v1_admin_products_{product_id}_images_{image_id}",
                        "parameters": {"product_id": "$request.path.product_id", "image_id": "$response.body#/id"}},
    },
    ("/api/v1/admin/discount-codes", "post", "201"): {
        "Switch": {"operationId": "patch__api_v1_admin_discount-codes_{code}",
                   "parameters": {"code": "$response.body#/code"}},
    },
    ("/api/v1/admin/shipping-methods", "post", "201"): {
        "Switch": {"operationId": "patch__api_v1_admin_shipping-methods_{method_id}",
                   "parameters": {"method_id": "$response.body#/id"}},
    },
    ("/api/v1/addresses", "post", "201"): {
        "Delete": {"operationId": "delete__api_v1_addresses_{address_id}", "parameters": {"address_id": _NEW_ORDER}},
    },
}


class RequestDoesNotFit(InvalidInput):
    """A request refused by its model, before the view ran."""
    code = "invalid_request"

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(N_("Some fields are missing or not valid; see errors."))
        self.problem_members = {"errors": errors}


def _refuse_invalid_request(req, resp, req_validation_error, instance, *_args) -> None:
    """spectree's hook after validating a request: a mismatch becomes the shop's own 400 problem, and
    a body that is not JSON where JSON is expected a 415 (spectree would pass the view nothing)."""
    if req.method in ("POST", "PUT", "PATCH") and _expects_json():
        if req.mimetype != "application/json":
            raise UnsupportedMediaType()
        if not isinstance(req.get_json(silent=True), dict):  # spectree reads null, [] or bad JSON as {}
            raise RequestDoesNotFit([{"field": "body", "message": "A JSON object is expected"}])
    if isinstance(req_validation_error, ValidationError):
        raise RequestDoesNotFit([
            {"field": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
            for error in req_validation_error.errors(include_context=False, include_url=False)])


class AnswerDoesNotFit(RuntimeError):
    """A view's answer that does not match its documented model: a bug, logged, answered 500."""


def _expects_json() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    metadata = spec.get_function_metadata(view) if view is not None else None
    return metadata is not None and metadata.json is not None


def _refuse_invalid_answer(req, resp, resp_validation_error, instance, *_args) -> None:
    if resp_validation_error is not None:
        raise AnswerDoesNotFit(f"{req.method} {req.path}: {resp_validation_error}")


spec = SpecTree(
    "flask", mode="strict", title="Tienda Híbrida API", version=API_VERSION, annotations=True,
    path="api/v1/docs", validation_error_status=400, before=_refuse_invalid_request, after=_refuse_invalid_answer,
    description="Store and staff endpoints of the shop. Money is a decimal string in euros with IVA "
                "included; errors are RFC 9457 problems with a stable `code`. See docs/api.md.",
    security_schemes=[
        SecurityScheme(name="bearer", data=SecuritySchemeData(
            type=SecureType.HTTP, scheme="bearer",
            description="A customer's access token (POST /api/v1/auth/token), or a staff API key (shk_…)")),
        SecurityScheme(name="session", data=SecuritySchemeData(
            type=SecureType.API_KEY, name="session", field_in=InType.COOKIE,
            description="The shop's browser session; changes need the X-CSRFToken header")),
    ],
    security={"bearer": []},
)
_document: dict[str, Any] | None = None
_document_lock = threading.Lock()


def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process, from the app's routes)."""
    global _document
    with _document_lock:  # held only around building a dict: nothing here re-enters it
        if _document is None:
            _document = _with_problems(spec.spec)
    return _document


def _with_problems(generated: dict[str, Any]) -> dict[str, Any]:
    """spectree's document, with every error answer described as what it is: an RFC 9457 problem in
    `application/problem+json` (spectree knows only application/json)."""
    doc = copy.deepcopy(generated)
    doc["components"]["schemas"]["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    doc["components"]["schemas"].update(doc["components"]["schemas"]["Problem"].pop("$defs", {}))
    doc["components"]["schemas"].pop("ValidationError", None)
    doc["components"]["schemas"] = {name: schema for name, schema in doc["components"]["schemas"].items()
                                    if not name.startswith("ValidationError")}
    for path_item in doc["paths"].values():
        for operation in path_item.values():
            for parameter in operation["parameters"]:
                if parameter["in"] == "path" and parameter["name"] in _PATH_PATTERNS:
                    parameter["schema"] = {"type": "string", "pattern": _PATH_PATTERNS[parameter["name"]]}
            responses = operation["responses"]
            for status, description in _ERROR_DESCRIPTIONS.items():
                responses[status] = {"description": description,
                                     "content": {"application/problem+json": {"schema": _PROBLEM_REF}}}
            responses["default"] = {"description": "Any other error (a 500 carries only its request id)",
                                    "content": {"application/problem+json": {"schema": _PROBLEM_REF}}}
            if operation.get("security") == []:  # public: no credentials needed (but accepted)
                operation["security"] = [{}, {"bearer": []}]
    for (path, method, status), links in _LINKS.items():
        doc["paths"][path][method]["responses"][status]["links"] = links
    doc["servers"] = [{"url": "/"}]
    return doc


@bp.get("/openapi.json")
@public
def openapi_document():
    """The OpenAPI 3.1 document of this API."""
    return document()


@bp.get("/docs")
@public
def docs_page():
    """The API's reference, rendered here from the OpenAPI document (no script, nothing from a CDN)."""
    return render_template("api/docs.html", doc=document(), spec_url=url_for("api_v1.openapi_document"),
                           title=gettext("API reference"), shop=shop_settings())
