"""A request id on every request, in every log line and in the X-Request-ID response header; one
access line per request; JSON lines in production (one object per line), readable text elsewhere."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request
from flask_login import current_user

_INCOMING_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the access fields."""

    FIELDS = ("user_id", "endpoint", "method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                 "request_id": getattr(record, "request_id", "-")}
        entry.update({k: getattr(record, k) for k in self.FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


JsonFormatter.converter = time.gmtime


class _ShopHandler(logging.StreamHandler):
    """The handler `configure_logging` adds (so a second call finds it instead of adding another)."""


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Root logging with the request id in every line (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h, _ShopHandler) for h in root.handlers):
        handler = _ShopHandler()
        handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(LOG_FORMAT))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level)


def current_request_id() -> str:
    return g.get("request_id", "-")


def init_app(app: Flask) -> None:
    access = logging.getLogger("shop.access")

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        # A proxy's id is kept if it looks like one; anything else could forge log lines.
        g.request_id = incoming if _INCOMING_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def expose_request_id(response):
        response.headers["X-Request-ID"] = current_request_id()
        started = g.get("request_started")
        if started is not None and request.endpoint not in ("static", "bootstrap.static"):
            user_id = current_user.user_id if current_user and current_user.is_authenticated else None
            duration = round((time.perf_counter() - started) * 1000, 1)
            # An activation or password link's token is a secret: such paths are logged as their rule.
            path = request.url_rule.rule if "token" in (request.view_args or {}) else request.path
            access.info("%s %s %s %.1f ms", request.method, path, response.status_code, duration,
                        extra={"request_id": current_request_id(), "user_id": user_id, "endpoint": request.endpoint,
                               "method": request.method,
                               "path": path, "status": response.status_code, "duration_ms": duration})
        return response
