"""Product images: what an image is to the shop, and the rules an upload must meet.

An image is known by the SHA-256 of its cleaned original (`image_id`), so its URLs never change
meaning and can be cached for a year (`immutable`). The sizes served are made once, at upload, as
WebP at fixed widths (never wider than the original).
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.domain.errors import N_, InvalidInput

MAX_UPLOAD_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000  # width × height: a larger image is refused before it is decoded (a "bomb")
WIDTHS = (160, 320, 640, 1280)  # the sizes made at upload, as WebP
MAX_ALT_LENGTH = 200
MAX_IMAGES_PER_PRODUCT = 12
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ProductImage:
    """One of a product's images, as its document keeps it (the first is the main one)."""
    image_id: str  # SHA-256 (hex) of the cleaned original
    alt: str
    width: int  # of the original, after its orientation was applied
    height: int
    widths: tuple[int, ...]  # the WebP sizes made for it
    variant: str | None = None  # the variant it shows (the red one), for a product sold in options

    def height_at(self, width: int) -> int:
        return max(1, round(self.height * width / self.width))

    @property
    def largest(self) -> int:
        return self.widths[-1]

    def width_for(self, wanted: int) -> int:
        """The smallest size made that is at least `wanted` wide (else the largest)."""
        return next((width for width in self.widths if width >= wanted), self.largest)


def derivative_name(image_id: str, width: int) -> str:
    """The file name (and URL tail) of one size of an image: content-addressed."""
    return f"{image_id}-{width}.webp"


def widths_for(original_width: int) -> tuple[int, ...]:
    """The sizes to make: every fixed width below the original's, and the original's own width
    when it is narrower than the largest (an image is never enlarged)."""
    below = tuple(width for width in WIDTHS if width < original_width)
    return below if original_width > WIDTHS[-1] else (*below, original_width)


def parse_alt(raw: object) -> str:
    """Alt text is required: a page must say what an image shows to those who cannot see it."""
    text = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not text or len(text) > MAX_ALT_LENGTH or not text.isprintable():
        raise InvalidInput(N_("Describe what the image shows (alt text, at most %(max)d characters)."),
                           max=MAX_ALT_LENGTH)
    return text


def parse_image_id(raw: object) -> str:
    text = raw.strip().lower() if isinstance(raw, str) else ""
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise InvalidInput(N_("That image does not exist."))
    return text
