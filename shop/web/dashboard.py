"""The staff dashboard: sales per day (a chart drawn on the server), orders by status, best
sellers, low stock, and the share of failed or cancelled orders."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from shop.domain.catalog import parse_low_stock_threshold
from shop.services import reports
from shop.web.access import STAFF, roles_required
from shop.web.extensions import get_report_db, get_store, reused, shop_settings

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


@bp.get("/")
@roles_required(*STAFF)
def index():
    threshold = parse_low_stock_threshold(request.args.get("low_stock"), shop_settings().low_stock_threshold)
    return render_template("staff/dashboard.html", board=_board(threshold))


def _board(threshold: int) -> reports.Dashboard:
    """The figures, reused for a few seconds per threshold (the page says when they were read):
    several people watching the dashboard cost one reading, not one each."""
    return reused(f"dashboard:{threshold}", lambda: reports.dashboard(get_report_db(), get_store(), threshold))
