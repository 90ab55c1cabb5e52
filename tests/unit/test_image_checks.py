"""What an upload must be to become a product image, checked on files made here with Pillow."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from shop.adapters.images import prepare
from shop.domain.errors import InvalidInput
from shop.domain.images import MAX_UPLOAD_BYTES, ProductImage, derivative_name, parse_alt, widths_for

GPS, ORIENTATION = 0x8825, 0x0112


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(width: int = 1600, height: int = 1200, fmt: str = "JPEG", **options) -> bytes:
    image = Image.new("RGB", (width, height), (200, 80, 40))
    image.paste((30, 90, 200), (0, 0, width // 2, height // 3))  # not one flat colour: orientation shows
    return encoded(image, fmt, **options)


def test_a_photo_loses_its_metadata_gps_included_and_is_turned_upright_first():
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # "rotate 90° clockwise to view"
    exif[GPS] = {1: "N", 2: (40.0, 25.0, 0.0)}
    image = prepare(photo(1600, 1200, exif=exif.tobytes()))
    assert (image.width, image.height) == (1200, 1600)  # upright
    cleaned = Image.open(io.BytesIO(image.original))
    assert dict(cleaned.getexif()) == {} and "exif" not in cleaned.info
    assert image.content_type == "image/jpeg"


def test_every_size_is_webp_at_a_fixed_width_and_never_wider_than_the_original():
    image = prepare(photo(1600, 1200))
    assert list(image.sizes) == [160, 320, 640, 1280]
    for width, data in image.sizes.items():
        size = Image.open(io.BytesIO(data))
        assert size.format == "WEBP" and size.size == (width, round(1200 * width / 1600))
    small = prepare(photo(500, 400, "PNG"))
    assert list(small.sizes) == [160, 320, 500]


def test_the_same_file_is_the_same_image_and_another_file_another():
    assert prepare(photo()).image_id == prepare(photo()).image_id != prepare(photo(1601, 1200)).image_id


def test_png_and_webp_are_accepted_and_transparency_is_kept():
    transparent = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    for fmt in ("PNG", "WEBP"):
        image = prepare(encoded(transparent, fmt))
        assert Image.open(io.BytesIO(image.sizes[320])).mode == "RGBA"


@pytest.mark.parametrize("data, message", [
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "not a JPEG, PNG or WebP"),
    (b"<html><script>alert(1)</script></html>", "not a JPEG, PNG or WebP"),
    (b"GIF89a" + b"\x00" * 100, "not a JPEG, PNG or WebP"),
    (photo() + b"<script>alert(document.cookie)</script>", "holds something that is not an image"),
    (photo() + b"PK\x03\x04" + b"\x00" * 40, "holds something that is not an image"),
    (photo() + b"trailing bytes of another file", "holds something that is not an image"),
    (photo()[:20_000], "damaged or cut short"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 4000 + b"\xff\xd9", "damaged or cut short"),
], ids=["svg", "html", "gif", "jpeg-with-script", "jpeg-with-zip", "jpeg-with-trailing-data", "truncated",
        "corrupt"])
def test_what_is_not_a_plain_image_is_refused_with_a_reason(data, message):
    with pytest.raises(InvalidInput, match=message):
        prepare(data)


def test_a_decompression_bomb_is_refused_from_its_header_before_it_is_decoded():
    bomb = encoded(Image.new("1", (9000, 9000)), "PNG")  # 81 megapixels in a few kilobytes
    assert len(bomb) < 50_000
    with pytest.raises(InvalidInput, match="more than 40 megapixels"):
        prepare(bomb)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    with pytest.raises(InvalidInput, match="larger than 15 MB"):
        prepare(b"\xff\xd8\xff" + b"\x00" * MAX_UPLOAD_BYTES)


def test_alt_text_is_required_and_bounded():
    assert parse_alt("  Camiseta   roja  ") == "Camiseta roja"
    for bad in ("", "   ", None, "x" * 201, "tab\x00"):
        with pytest.raises(InvalidInput, match="alt text"):
            parse_alt(bad)


def test_sizes_and_names_of_an_image():
    assert widths_for(4000) == (160, 320, 640, 1280) and widths_for(1280) == (160, 320, 640, 1280)
    assert widths_for(100) == (100,)
    image = ProductImage("a" * 64, "x", 1000, 500, (160, 320, 640, 1000))
    assert image.width_for(300) == 320 and image.width_for(5000) == 1000 and image.height_at(320) == 160
    assert derivative_name("a" * 64, 320) == "a" * 64 + "-320.webp"


def test_the_served_files_kept_in_memory_stay_within_their_byte_limit_least_recently_used_first():
    from shop.web.images import _Kept

    kept = _Kept(limit=10)
    kept.put("a", b"1234")
    kept.put("b", b"1234")
    assert kept.get("a") == b"1234"  # now the most recently used
    kept.put("c", b"1234")  # 12 bytes: "b" goes
    assert (kept.get("a"), kept.get("b"), kept.get("c")) == (b"1234", None, b"1234")
    kept.put("huge", b"x" * 11)  # larger than the whole limit: never kept
    assert kept.get("huge") is None and kept.get("a") == b"1234"
