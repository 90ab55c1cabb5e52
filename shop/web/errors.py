"""Exceptions become HTTP here, in one place: domain errors → 4xx, anything else → 500 + request id."""

from __future__ import annotations

import logging
from decimal import Decimal
from http import HTTPStatus

from flask import Flask, Response, g, jsonify, make_response, render_template, request
from flask_babel import gettext, ngettext
from flask_limiter.errors import RateLimitExceeded
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from shop.adapters import mongo, postgres
from shop.adapters.errors import DatabaseUnavailable, StoreUnavailable
from shop.domain.errors import (
    Conflict,
    DomainError,
    InvalidCredentials,
    InvalidInput,
    LimitReached,
    NotFound,
    Unavailable,
)
from shop.domain.orders import OrderStatus
from shop.web.formatting import money, status_label
from shop.web.requestlog import current_request_id

log = logging.getLogger(__name__)

# Most specific first: a LimitReached is also a Conflict.
_STATUS = {InvalidInput: 400, InvalidCredentials: 401, NotFound: 404, LimitReached: 429, Conflict: 409,
           Unavailable: 503}


def status_for(error: DomainError) -> int:
    return next((code for cls, code in _STATUS.items() if isinstance(error, cls)), 400)


def translate_error(error: DomainError) -> str:
    """The domain's English message id, translated, with its parameters filled in."""
    params = {k: status_label(v.value).lower() if isinstance(v, OrderStatus) else money(v) if isinstance(v, Decimal)
              else v for k, v in error.params.items()}
    if error.plural is not None:
        num = params.pop("num")
        return ngettext(error.template, error.plural, num, **params)
    return gettext(error.template, **params)


def _status_message(status: int) -> str:
    messages = {
        400: gettext("The request could not be understood. Check what you entered and try again."),
        401: gettext("You need to log in to do that."),
        403: gettext("You do not have permission to do that."),
        404: gettext("The page you are looking for does not exist."),
        405: gettext("That action is not allowed here."),
        409: gettext("That conflicts with the current state; reload the page and try again."),
        413: gettext("What you sent is too large."),
        429: gettext("Too many attempts. Wait a minute and try again."),
        500: gettext("Something went wrong on our side. It has been logged; please try again."),
        503: gettext("The shop is temporarily unavailable. Please try again in a moment."),
    }
    return messages.get(status, messages[500] if status >= 500 else messages[400])


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.is_json:
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


# The JSON error's `code` for errors that are not the domain's own (those carry theirs: DomainError.code)
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               429: "rate_limited", 500: "internal_error", 503: "unavailable"}


API_V1_PREFIX = "/api/v1/"


def problem_response(status: int, detail: str, code: str | None = None, **members: object) -> Response:
    """An RFC 9457 problem (`application/problem+json`), what every /api/v1 error answers: `type` is
    about:blank (so `title` is the HTTP status phrase), `code` is stable and untranslated (what a
    program tests), `detail` is translated for people. A 500 says nothing but its request id."""
    code = code or _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    body: dict[str, object] = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
                               "code": code, "request_id": current_request_id()}
    if status < 500 or status == 503:
        body["detail"] = detail
        body.update(members)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def error_response(status: int, message: str, code: str | None = None, **members: object):
    """The error page, or for programs `{"error": {"status", "code", "message", "request_id"}}`
    (an RFC 9457 problem under /api/v1): `code` is stable and untranslated (what a program tests),
    `message` is for people."""
    if request.path.startswith(API_V1_PREFIX):
        return problem_response(status, message, code, **members)
    if wants_json():
        code = code or _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
        body = {"error": {"status": status, "code": code, "message": message, "request_id": current_request_id()}}
        return jsonify(body), status
    try:
        return render_template("error.html", status=status, message=message,
                               request_id=current_request_id()), status
    except Exception:  # an error page must never fail in its turn: the message as plain text  # noqa: BLE001
        log.exception("the error page itself failed on %s %s", request.method, request.path)
        return Response(f"{message} ({current_request_id()})\n", status=status,
                        content_type="text/plain; charset=utf-8")


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        # Members a problem adds for programs (the fields a request got wrong), when the error has them
        return error_response(status_for(error), translate_error(error), error.code,
                              **getattr(error, "problem_members", {}))

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        log.info("CSRF check failed: %s", error.description)
        return error_response(400, gettext(
            "The form expired or did not come from this shop. Reload the page and send it again."), "csrf_failed")

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded):
        return error_response(429, _status_message(429), "rate_limited")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        response = error_response(error.code or 500, _status_message(error.code or 500))
        if isinstance(error, MethodNotAllowed) and error.valid_methods:  # RFC 9110: a 405 names what is allowed
            response = make_response(response)
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    def database_unavailable(error: Exception):
        # A database that does not answer is the operator's problem, not a bug: 503, try again.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
        if "_login_user" not in g:
            # Loading the person failed (or was never tried): the page shows no one rather than
            # reach for the database again through another connection that may be dead too.
            g._login_user = AnonymousUserMixin()
        return error_response(503, _status_message(503), "database_unavailable")

    # The shop's own errors, and the drivers' for code that talks to a database directly (sessions,
    # rate limits)
    for unavailable in (DatabaseUnavailable, StoreUnavailable, *postgres.DRIVER_UNAVAILABLE,
                        *mongo.DRIVER_UNAVAILABLE):
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, _status_message(500))
