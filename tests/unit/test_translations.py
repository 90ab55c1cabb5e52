"""Every user-visible string has a Spanish translation that formats with its placeholders, and the
compiled catalog is current."""

import io
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "shop" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None,
            "Nn_": (1, 2)}


def _extracted_ids() -> set:
    method_map = [("shop/**.py", "python"), ("shop/templates/**.html", "jinja2")]
    ids = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(ROOT, method_map, keywords=KEYWORDS):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_message_in_the_code_has_a_spanish_translation():
    catalog = read_po(PO.open("rb"))
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id and m.string and
                  (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy}
    missing = _extracted_ids() - translated
    assert not missing, f"run `make translations` and translate: {sorted(missing)}"


def _key(value):
    return value if isinstance(value, str) else tuple(value)


def test_the_compiled_catalog_matches_the_po_file():
    po = {_key(m.id): _key(m.string) for m in read_po(PO.open("rb")) if m.id}
    mo = {_key(m.id): _key(m.string) for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "run `make translations` (pybabel compile) and commit messages.mo"


def test_every_translation_formats_with_the_placeholders_of_its_message():
    """Pages format every message with `%` (Jinja's new-style gettext), placeholders or not: a lone
    "%" in a translation ("Cambio en %") is a 500 on the page that shows it."""
    broken = []
    for message in read_po(PO.open("rb")):
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        names = {name for text in ids for name in re.findall(r"%\((\w+)\)", text)}
        values = {name: 1 for name in names}
        for text in [message.string] if isinstance(message.string, str) else list(message.string):
            try:
                text % values  # noqa: B018 - formatting is what is checked
            except (ValueError, KeyError, TypeError) as error:
                broken.append(f"{ids[0]!r} → {text!r}: {error}")
    assert not broken, broken
