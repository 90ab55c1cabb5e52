"""Product images as the browser gets them: `/imagenes/<sha256>-<width>.webp`, content-addressed, so a
name always means the same bytes and is cached for a year (`immutable`), with a strong ETag for a
revalidation that costs nothing. Public: a product's images are as public as its page."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request

from shop.web.access import public
from shop.web.extensions import get_store

bp = Blueprint("images", __name__, url_prefix="/imagenes")
_NAME = re.compile(r"[0-9a-f]{64}-[0-9]{2,4}\.webp")
YEAR = 31_536_000


@bp.get("/<name>")
@public
def show(name: str):
    if not _NAME.fullmatch(name):
        abort(404)
    etag = name.removesuffix(".webp")
    headers = {"Cache-Control": f"public, max-age={YEAR}, immutable", "ETag": f'"{etag}"',
               "X-Content-Type-Options": "nosniff"}
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    data = get_store().images.read(name)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/webp", headers=headers)
