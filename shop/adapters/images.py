"""Turning an uploaded file into a product image (Pillow): checked by its content, never by its name
or its Content-Type; cleaned (orientation applied, then EXIF, GPS and every other metadata dropped by
re-encoding); and made into WebP at the shop's fixed widths, once, at upload.

Refused, each with a message a person can act on: more than MAX_UPLOAD_BYTES; not a JPEG, PNG or
WebP by its bytes; more than MAX_PIXELS (a decompression bomb is refused from its header, before
anything is decoded); damaged or cut short; and a polyglot — an image that is also something else,
such as markup or an archive inside it or bytes after its end. Nothing of the upload itself is ever
served: every byte served is Pillow's own re-encoding.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps

from shop.domain.errors import N_, InvalidInput
from shop.domain.images import FORMATS, MAX_PIXELS, MAX_UPLOAD_BYTES, widths_for

# What no plain image holds, anywhere in its bytes: markup, script, an archive's header.
_FOREIGN = re.compile(rb"<\s*(script|html|svg|body|iframe|object|embed|\?php|!doctype)|PK\x03\x04|%PDF-",
                      re.IGNORECASE)
_PNG_END = b"IEND\xaeB`\x82"
WEBP_QUALITY = 82


@dataclass(frozen=True)
class PreparedImage:
    image_id: str  # SHA-256 of `original`
    width: int
    height: int
    original: bytes  # re-encoded in its own format, without metadata, upright
    content_type: str
    sizes: dict[int, bytes] = field(default_factory=dict)  # width → WebP


def sniff(data: bytes) -> str | None:
    """The format the bytes say they are (JPEG, PNG, WEBP), whatever the file was called."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _ends_where_it_should(data: bytes, kind: str) -> bool:
    """No bytes after the image's own end (where a second file hides in a polyglot)."""
    if kind == "JPEG":
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if kind == "PNG":
        return data.endswith(_PNG_END)
    declared = int.from_bytes(data[4:8], "little") + 8  # RIFF size, padded to even
    return len(data) in (declared, declared + (declared & 1))


def prepare(data: bytes) -> PreparedImage:
    """The cleaned image and its sizes, or InvalidInput saying what is wrong with the file."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(N_("The image is larger than %(mb)d MB; upload a smaller one."),
                           mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    kind = sniff(data)
    if kind is None:
        raise InvalidInput(N_("That file is not a JPEG, PNG or WebP image."))
    if _FOREIGN.search(data):
        raise _polyglot()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as probe:
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise InvalidInput(N_("The image has more than %(mp)d megapixels; upload a smaller one."),
                                       mp=MAX_PIXELS // 1_000_000)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=[kind]) as opened:
                opened.load()
                if not _ends_where_it_should(data, kind):
                    raise _polyglot()
                return _prepared(ImageOps.exif_transpose(opened), kind)
    except InvalidInput:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(N_("The image is damaged or cut short; save it again and upload that.")) from None


def _polyglot() -> InvalidInput:
    return InvalidInput(N_("That image also holds something that is not an image; save it again as a plain "
                           "JPEG, PNG or WebP and upload that."))


def _prepared(image: Image.Image, kind: str) -> PreparedImage:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    if kind == "JPEG" and has_alpha:
        image = image.convert("RGB")
    original = io.BytesIO()
    if kind == "JPEG":
        image.save(original, "JPEG", quality=92, optimize=True)
    elif kind == "PNG":
        image.save(original, "PNG", optimize=True)
    else:
        image.save(original, "WEBP", quality=90)
    sizes: dict[int, bytes] = {}
    source = image
    for width in sorted(widths_for(image.width), reverse=True):  # each from the next larger: faster
        height = max(1, round(image.height * width / image.width))
        source = source.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
        encoded = io.BytesIO()
        source.save(encoded, "WEBP", quality=WEBP_QUALITY, method=4)
        sizes[width] = encoded.getvalue()
    cleaned = original.getvalue()
    return PreparedImage(hashlib.sha256(cleaned).hexdigest(), image.width, image.height, cleaned, FORMATS[kind],
                         dict(sorted(sizes.items())))
