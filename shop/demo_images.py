"""Pictures for the demo catalog, drawn at first start (the repository ships no image files): one
studio-style illustration per category — the object on a soft backdrop with a floor shadow — so a
new shop looks like a shop and every page shows how images behave."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 960, 720
Draw = ImageDraw.ImageDraw


def _laptop(d: Draw) -> None:
    d.rounded_rectangle((300, 190, 660, 420), 14, fill=(45, 48, 56))
    d.rounded_rectangle((316, 206, 644, 404), 6, fill=(120, 170, 230))
    d.polygon([(250, 430), (710, 430), (760, 480), (200, 480)], fill=(190, 194, 202))
    d.rectangle((430, 440, 530, 452), fill=(160, 164, 172))


def _tshirt(d: Draw) -> None:
    d.polygon([(390, 190), (430, 170), (530, 170), (570, 190), (680, 250), (640, 330), (590, 305), (590, 500),
               (370, 500), (370, 305), (320, 330), (280, 250)], fill=(200, 60, 60))
    d.arc((430, 150, 530, 215), 20, 160, fill=(150, 40, 40), width=8)


def _book(d: Draw) -> None:
    d.rectangle((350, 170, 620, 500), fill=(40, 90, 150))
    d.rectangle((350, 170, 385, 500), fill=(30, 70, 120))
    d.rectangle((420, 230, 580, 260), fill=(235, 225, 200))
    d.rectangle((420, 280, 560, 296), fill=(235, 225, 200))


def _headphones(d: Draw) -> None:
    d.arc((330, 160, 630, 460), 180, 360, fill=(40, 40, 44), width=26)
    d.rounded_rectangle((310, 300, 380, 440), 24, fill=(30, 30, 34))
    d.rounded_rectangle((580, 300, 650, 440), 24, fill=(30, 30, 34))


def _coffee_maker(d: Draw) -> None:
    d.rounded_rectangle((360, 170, 600, 240), 12, fill=(60, 60, 64))
    d.rectangle((380, 240, 580, 440), fill=(170, 172, 178))
    d.rounded_rectangle((340, 440, 620, 490), 10, fill=(60, 60, 64))
    d.rounded_rectangle((440, 360, 520, 440), 8, fill=(250, 250, 250))
    d.rectangle((455, 375, 505, 390), fill=(110, 70, 40))


def _sneaker(d: Draw) -> None:
    d.polygon([(300, 430), (330, 330), (420, 300), (520, 360), (640, 380), (680, 430)], fill=(240, 240, 244))
    d.rounded_rectangle((290, 425, 690, 470), 18, fill=(60, 120, 200))
    for x in (420, 450, 480):
        d.line((x, 318, x + 30, 350), fill=(60, 120, 200), width=6)


def _phone(d: Draw) -> None:
    d.rounded_rectangle((400, 150, 560, 490), 26, fill=(30, 30, 34))
    d.rounded_rectangle((412, 170, 548, 470), 14, fill=(90, 140, 210))
    d.ellipse((468, 155, 492, 163), fill=(60, 60, 64))


# category → (backdrop top colour, backdrop bottom colour, the object)
_CATEGORIES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int], Callable[[Draw], None]]] = {
    "Portátiles": ((225, 232, 243), (190, 202, 222), _laptop),
    "Camisetas": ((246, 232, 226), (226, 200, 190), _tshirt),
    "Libros": ((236, 232, 222), (214, 204, 184), _book),
    "Auriculares": ((232, 236, 240), (200, 208, 216), _headphones),
    "Cafeteras": ((242, 236, 228), (222, 208, 192), _coffee_maker),
    "Zapatillas": ((228, 238, 236), (196, 216, 212), _sneaker),
    "Móviles": ((234, 232, 244), (204, 200, 226), _phone),
}


def demo_image(category: str) -> bytes | None:
    """A JPEG illustration for a demo category (None for a category it has none for)."""
    if category not in _CATEGORIES:
        return None
    top, bottom, draw_object = _CATEGORIES[category]
    image = Image.new("RGB", (WIDTH, HEIGHT))
    backdrop = ImageDraw.Draw(image)
    for y in range(HEIGHT):
        share = y / (HEIGHT - 1)
        colour = tuple(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True))
        backdrop.line((0, y, WIDTH, y), fill=colour)
    shadow = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(shadow).ellipse((230, 470, 730, 530), fill=90)
    image.paste((40, 40, 48), mask=shadow.filter(ImageFilter.GaussianBlur(18)))
    draw_object(ImageDraw.Draw(image))
    encoded = io.BytesIO()
    image.save(encoded, "JPEG", quality=88)
    return encoded.getvalue()
