"""The audit log viewer (admins and auditors): filters, CSV export, and the chain's verification."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from shop.domain.filters import csv_cell, parse_audit_filter
from shop.services import staff_lists
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.extensions import get_audit_log, get_db, get_report_db, get_store, reused, url_key
from shop.web.formatting import as_json

bp = Blueprint("audit_log", __name__, url_prefix="/admin/audit")
CSV_COLUMNS = ("seq", "ts", "actor_id", "actor_role", "ip", "user_agent", "action", "target", "details", "hash")


@bp.get("/")
@roles_required(*STAFF)
def index():
    audit_filter = parse_audit_filter(request.args.to_dict(flat=False))  # bad input: 4xx, never reused
    store = get_store()
    head = store.audit.head_mark()

    def render_page() -> tuple[str, bool]:
        listing, exact = staff_lists.read_audit_page(get_db(), get_report_db(), store, audit_filter, head)
        return render_template("staff/_audit_page.html", listing=listing, filter=audit_filter, actions=_actions(),
                               actor_names=staff_lists.actor_names(get_report_db(), listing.items)), exact

    # One rendering per URL, language and head of the chain: the head's hash covers every entry before
    # it, so while the head stays there the page cannot change, and a new entry moves the head and
    # with it the key (docs/audit.md, "Reusing a page"). No head document yet (an empty log): nothing
    # to key the page on, so it is read every time.
    content, _ = reused(url_key("audit-page", *head), render_page, keep=lambda page: page[1]) if head \
        else render_page()
    return render_template("staff/audit.html", content=Markup(content))  # noqa: S704  # Jinja's own output


def _actions() -> list[str]:
    """The filter's menu of actions, reused for CATALOG_CACHE_SECONDS (a new kind of action shows
    in it at most that late)."""
    return reused("audit-actions", lambda: get_report_db().lists.audit_actions())


@bp.get("/export.csv")
@roles_required(*STAFF)
def export():
    """Every matching entry, oldest first, streamed (a large log is never held in memory)."""
    audit_filter = parse_audit_filter(request.args.to_dict(flat=False))
    entries = staff_lists.export_audit_entries(get_db(), get_store(), audit_filter)
    audit("audit.exported", None, filter=audit_filter.as_args())

    def rows():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for entry in entries:
            writer.writerow([csv_cell(_cell(getattr(entry, column))) for column in CSV_COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    return Response(rows(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit-log.csv"})


def _cell(value) -> str:
    if isinstance(value, dict):
        return as_json(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else str(value)


@bp.get("/verify")
@roles_required(*STAFF)
def verify():
    """Walk the whole chain now; names the first entry that does not fit, if any."""
    count, broken = get_audit_log().verify()
    audit("audit.verified", None, entries=count, first_broken=broken)
    return render_template("staff/audit_verify.html", count=count, broken=broken)
