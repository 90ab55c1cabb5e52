"""Attribute labels in MongoDB (`store.attribute_labels`): one document per attribute key, with
its label in each language the shop speaks (`{"_id": "garantia_meses", "es": "Garantía (meses)"}`)."""

from __future__ import annotations

from shop.adapters.mongo.errors import translates_errors
from shop.domain.attribute_labels import LANGUAGES

MAX_LABELLED_KEYS = 2000


@translates_errors
class AttributeLabels:
    def __init__(self, collection):
        self.collection = collection  # the attribute_labels collection

    def all(self) -> dict[str, dict[str, str]]:
        """Every key's labels: {key: {language: label}} (a small collection, read whole)."""
        return {doc["_id"]: {lang: doc[lang] for lang in LANGUAGES if doc.get(lang)}
                for doc in self.collection.find({}).limit(MAX_LABELLED_KEYS)}

    def write(self, key: str, labels: dict[str, str]) -> dict[str, str]:
        """Set a key's labels (an empty one is removed); returns the labels it had before."""
        before = self.collection.find_one({"_id": key}) or {}
        written = {lang: label for lang, label in labels.items() if label}
        removed = {lang: "" for lang, label in labels.items() if not label}
        update: dict = {}
        if written:
            update["$set"] = written
        if removed:
            update["$unset"] = removed
        if update:
            self.collection.update_one({"_id": key}, update, upsert=bool(written))
        return {lang: before[lang] for lang in LANGUAGES if before.get(lang)}

    def add_missing(self, labels: dict[str, str], language: str) -> list[str]:
        """Give each key its label in `language` where it has none yet; returns the keys given one."""
        if not labels:
            return []
        labelled = self.collection.find({"_id": {"$in": list(labels)}, language: {"$exists": True}}, {"_id": 1})
        having = {doc["_id"] for doc in labelled}
        added = [key for key in labels if key not in having]
        for key in added:
            self.collection.update_one({"_id": key}, {"$set": {language: labels[key]}}, upsert=True)
        return added
