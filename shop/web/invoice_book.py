"""The accountant's book of invoices issued, for a range of days (docs/money.md): a page that says
what it holds, and the book as CSV or JSON, for admins and auditors. Reading it is audited."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext

from shop.domain.errors import N_, InvalidInput
from shop.domain.filters import csv_cell, parse_date
from shop.domain.invoice_book import COLUMNS, BookLine, book_lines
from shop.web.access import STAFF, roles_required
from shop.web.auditing import audit
from shop.web.extensions import get_report_db, shop_settings

bp = Blueprint("invoice_book", __name__, url_prefix="/admin/invoices")
MAX_DAYS = 400  # a year and then some: the book is read in one go


def _range() -> tuple[dt.date, dt.date]:
    """The days asked for (`from`, `to`, both included); the current quarter by default."""
    today = dt.datetime.now(dt.UTC).date()
    quarter_start = today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1)
    start = parse_date(request.args.get("from", ""), "from") or quarter_start
    end = parse_date(request.args.get("to", ""), "to") or today
    if end < start:
        raise InvalidInput(N_("The date range ends before it starts."))
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(N_("Ask for at most %(days)d days at a time."), days=MAX_DAYS)
    return start, end


def _lines(start: dt.date, end: dt.date) -> list[BookLine]:
    """The book of those days, as days of the shop's time zone."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(shop_settings().time_zone)
    begins = dt.datetime.combine(start, dt.time(), zone)
    ends = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone)
    invoices, notes = get_report_db().invoice_book.issued(begins, ends)
    return book_lines(invoices, notes, shop_settings().time_zone)


@bp.get("/")
@roles_required(*STAFF)
def index():
    start, end = _range()
    lines = _lines(start, end)
    return render_template("staff/invoice_book.html", start=start, end=end, lines=lines,
                           total=sum((line.total for line in lines), Decimal("0.00")),
                           documents=len({(line.serie, line.numero) for line in lines}))


def _cell(value: object) -> object:
    return value if isinstance(value, Decimal | int) else csv_cell(value)  # numbers stay numbers


@bp.get("/book.<fmt>")
@roles_required(*STAFF)
def book(fmt: str):
    if fmt not in ("csv", "json"):
        raise InvalidInput(N_("The book is written as csv or json."))
    start, end = _range()
    lines = _lines(start, end)
    audit("invoices.exported", None, start=start.isoformat(), end=end.isoformat(), format=fmt, lines=len(lines))
    name = f"libro-facturas-expedidas-{start.isoformat()}-{end.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"}
    if fmt == "json":
        rows = [{column: str(value) if isinstance(value, Decimal) else value
                 for column, value in zip(COLUMNS, line.values(), strict=True)} for line in lines]
        return Response(json.dumps({"from": start.isoformat(), "to": end.isoformat(), "time_zone":
                                    shop_settings().time_zone, "lines": rows}, ensure_ascii=False, indent=1),
                        mimetype="application/json", headers=headers)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow([_cell(value) for value in line.values()])
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)


@bp.context_processor
def _labels() -> dict:
    return {"book_title": gettext("Invoices issued")}
