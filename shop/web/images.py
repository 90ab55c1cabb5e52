"""Product images as the browser gets them: `/imagenes/<sha256>-<width>.webp`, content-addressed, so a
name always means the same bytes and is cached for a year (`immutable`), with a strong ETag for a
revalidation that costs nothing. Public: a product's images are as public as its page.

The bytes of the sizes asked for most recently are kept in this process (at most KEPT_BYTES): a
name never changes meaning, so what is kept is never stale, and a catalog page's twelve thumbnails
then cost no GridFS read. A CDN or a caching proxy in front keeps them for as long as the headers
allow (docs/deploy.md)."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

from flask import Blueprint, Response, abort, request

from shop.web.access import public
from shop.web.extensions import get_store

bp = Blueprint("images", __name__, url_prefix="/imagenes")
_NAME = re.compile(r"[0-9a-f]{64}-[0-9]{2,4}\.webp")
YEAR = 31_536_000
KEPT_BYTES = 32 * 1024 * 1024


class _Kept:
    """The most recently served files, least recently used dropped first beyond `limit` bytes."""

    def __init__(self, limit: int):
        self._files: OrderedDict[str, bytes] = OrderedDict()
        self._size, self._limit = 0, limit
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes | None:
        with self._lock:
            data = self._files.get(name)
            if data is not None:
                self._files.move_to_end(name)
            return data

    def put(self, name: str, data: bytes) -> None:
        with self._lock:
            if name in self._files or len(data) > self._limit:
                return
            self._files[name] = data
            self._size += len(data)
            while self._size > self._limit:
                _, dropped = self._files.popitem(last=False)
                self._size -= len(dropped)


_kept = _Kept(KEPT_BYTES)


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
    data = _kept.get(name)
    if data is None:
        data = get_store().images.read(name)  # outside the lock: a read never waits on another
        if data is None:
            abort(404)
        _kept.put(name, data)
    return Response(data, mimetype="image/webp", headers=headers)
