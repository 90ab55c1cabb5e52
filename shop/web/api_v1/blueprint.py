"""The /api/v1 blueprint itself, which every module of the package registers its views on."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")
