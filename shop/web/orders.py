"""The "Pedidos" tab: the logged-in customer's orders, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from shop.web.extensions import get_db

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.get("/")
@login_required
def index():
    return render_template("orders/index.html", orders=get_db().orders_of_user(current_user.user_id))
