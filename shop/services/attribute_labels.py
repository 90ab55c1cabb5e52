"""Writing attribute labels: by staff on their page, or taken from the names typed in the product
form's rows (shop.domain.attribute_labels)."""

from __future__ import annotations

from shop.adapters.mongo import MongoStore
from shop.domain.attribute_labels import ATTRIBUTE_KEY, LANGUAGES, attribute_key, parse_label, typed_labels
from shop.domain.errors import N_, InvalidInput


def save_labels(store: MongoStore, raw_key: object,
                raw_labels: dict[str, object]) -> tuple[str, dict[str, str], dict[str, str]]:
    """Set a key's label in each language (an empty one is removed). Returns (key, before, after)."""
    key = attribute_key(" ".join(raw_key.split())) if isinstance(raw_key, str) else ""
    if not ATTRIBUTE_KEY.match(key):
        raise InvalidInput(N_("Attribute %(key)s: names use lower-case letters, digits and _ and start with "
                              "a letter (at most 40 characters)."), key=str(raw_key)[:60])
    labels = {lang: parse_label(raw_labels.get(lang)) for lang in LANGUAGES}
    before = store.attribute_labels.write(key, labels)
    return key, before, {lang: label for lang, label in labels.items() if label}


def keep_typed_labels(store: MongoStore, typed_names: list[str], language: str) -> list[str]:
    """The names staff typed in the product form's rows ("Garantía (meses)") become their keys'
    labels in the language of the form, where a key has none yet. Returns the keys labelled."""
    if language not in LANGUAGES:
        return []
    return store.attribute_labels.add_missing(typed_labels(typed_names), language)
