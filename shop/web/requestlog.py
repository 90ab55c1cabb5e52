"""A request id on every request, in every log line and in the X-Request-ID response header."""

from __future__ import annotations

import logging
import re
import uuid

from flask import Flask, g, has_request_context

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(level: str = "INFO") -> None:
    """Root logging with the request id in every line (idempotent)."""
    root = logging.getLogger()
    if not any(getattr(h, "_shop_handler", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._shop_handler = True
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level)


def current_request_id() -> str:
    return g.get("request_id", "-")


def init_app(app: Flask) -> None:
    from flask import request

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # A proxy's id is kept if it looks like one; anything else could forge log lines.
        g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex

    @app.after_request
    def expose_request_id(response):
        response.headers["X-Request-ID"] = current_request_id()
        return response
