"""Attribute labels as pages show them, and the staff page that writes them (`/admin/attributes/`)."""

from __future__ import annotations

import contextlib
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext

from shop.adapters.errors import DatabaseError
from shop.domain.accounts import Role
from shop.domain.attribute_labels import LANGUAGES, label_of
from shop.domain.errors import InvalidInput
from shop.services import attribute_labels as label_service
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.errors import status_for, translate_error
from shop.web.extensions import get_store

bp = Blueprint("staff_attributes", __name__, url_prefix="/admin/attributes")

LABELS_SECONDS = 5.0  # how long a process reuses the labels it read (a write in it forgets them)


def current_labels() -> dict[str, dict[str, str]]:
    """Every attribute's labels, read at most every LABELS_SECONDS per process; if MongoDB does not
    answer, the last ones read (or none: keys then read as made from themselves)."""
    held = current_app.extensions.setdefault("shop.attribute_labels", {"at": float("-inf"), "labels": {}})
    if time.monotonic() - held["at"] > LABELS_SECONDS:
        with contextlib.suppress(DatabaseError):
            held["labels"] = get_store().attribute_labels.all()
        held["at"] = time.monotonic()
    return held["labels"]


def forget_labels() -> None:
    current_app.extensions.pop("shop.attribute_labels", None)


def attribute_label(key: str) -> str:
    """The template filter: `garantia_meses` → "Garantía (meses)" in Spanish, "Warranty (months)" in English."""
    return label_of(key, current_labels(), str(get_locale() or "es"))


def _render(form: dict | None = None, error: str | None = None):
    labels = get_store().attribute_labels.all()
    return render_template("staff/attributes.html", labels=sorted(labels.items()), languages=LANGUAGES,
                           form=form or {}, error=error)


@bp.get("/")
@roles_required(*STAFF)
def index():
    return _render()


@bp.post("/")
@roles_required(Role.ADMIN)
def save():
    try:
        key, before, after = label_service.save_labels(
            get_store(), request.form.get("key", ""), {lang: request.form.get(lang, "") for lang in LANGUAGES})
    except InvalidInput as error:
        return _render(request.form.to_dict(), translate_error(error)), status_for(error)
    forget_labels()
    if before != after:
        audit("attribute_label.changed", f"attribute:{key}", before=before, after=after)
    flash(gettext("Labels of %(key)s saved.", key=key), "success")
    return redirect(url_for("staff_attributes.index"), 303)
