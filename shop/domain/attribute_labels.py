"""What a product attribute is called on the page, per language. An attribute's key (`garantia_meses`)
is data that filters, URLs and programs use, so it never changes; its label ("Garantía (meses)",
"Warranty (months)") is the shop's to write, with accents, in each language it speaks. Staff may
type a label as an attribute's name in the product form ("Color"): the key is made from it, and
the label is kept (docs/admin.md, "Attribute names")."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from shop.domain.errors import N_, InvalidInput

LANGUAGES = ("es", "en")
MAX_LABEL_LENGTH = 60
ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# What a typed name may hold to be made a key: letters (accented too), digits, spaces, brackets,
# dashes, slashes and apostrophes. Anything else ("$set") is refused as it is.
_NAME = re.compile(r"^[^\W_][\w ()/'-]*$")

# The last word of a key that is a unit: `ram_gb` reads "Ram (GB)" until someone writes its label.
_UNITS = {"gb": "GB", "mp": "MP", "horas": "h", "bar": "bar", "litros": "l", "pulgadas": "\"",
          "eu": "EU", "c": "°C", "meses": "", "cm": "cm", "mm": "mm", "kg": "kg", "g": "g", "ml": "ml",
          "l": "l", "w": "W", "mah": "mAh"}


def attribute_key(name: str) -> str:
    """The key for a name as staff typed it: "Color" → color, "Garantía (meses)" → garantia_meses,
    "RAM GB" → ram_gb. A key is returned as it is; a name no key can be made from (a sign such as
    $ in it, no letter first, too long) is returned unchanged, for the key check to refuse."""
    if ATTRIBUTE_KEY.match(name) or not _NAME.match(name):
        return name
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    key = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")
    return key if ATTRIBUTE_KEY.match(key) else name


def typed_labels(names: list[str]) -> dict[str, str]:
    """The labels staff typed as attribute names in the row editor: {key made from it: the name},
    for every name (of a top-level attribute) that was not already a key."""
    labels = {}
    for raw in names:
        name = " ".join((raw or "").split())
        if name and "." not in name and not ATTRIBUTE_KEY.match(name):
            key = attribute_key(name)
            if key != name and len(name) <= MAX_LABEL_LENGTH:
                labels[key] = name
    return labels


def generated_label(key: str) -> str:
    """The label a key gets until one is written: `ram_gb` → "Ram (GB)"."""
    parts = key.split("_")
    unit = _UNITS.get(parts[-1]) if len(parts) > 1 else None
    words = parts[:-1] if unit is not None else parts
    label = " ".join(words).capitalize()
    return f"{label} ({unit})" if unit else label


def label_of(key: str, labels: Mapping[str, Mapping[str, str]], language: str) -> str:
    """An attribute's label in `language`: the one written for it, else the Spanish one (the shop's
    first language), else the one made from its key."""
    written = labels.get(key) or {}
    return written.get(language) or written.get("es") or generated_label(key)


def parse_label(raw: object) -> str:
    """A label as staff write it: printable, at most 60 characters; empty means "no label"."""
    label = " ".join(raw.split()) if isinstance(raw, str) else ""
    if len(label) > MAX_LABEL_LENGTH or not label.isprintable():
        raise InvalidInput(N_("A label has at most %(max)d characters."), max=MAX_LABEL_LENGTH)
    return label
