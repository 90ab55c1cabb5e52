"""Template filters: money, attribute names and values, written for a Spanish reader."""

from __future__ import annotations

import json

from flask import Flask
from flask_babel import (
    format_currency,
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    get_locale,
    gettext,
    lazy_gettext,
)

from shop.domain.catalog import FEW_LEFT
from shop.domain.filters import PAGE_SIZES
from shop.domain.listing import filter_value_label
from shop.domain.taxes import TAX_CLASSES
from shop.web.extensions import shop_settings

_ROLE_LABELS = {"admin": lazy_gettext("Administrator"), "customer": lazy_gettext("Customer"),
                "auditor": lazy_gettext("Auditor")}
_STATUS_LABELS = {"placing": lazy_gettext("Placing"), "pending": lazy_gettext("Pending payment"),
                  "paid": lazy_gettext("Paid"), "shipped": lazy_gettext("Shipped"),
                  "cancelled": lazy_gettext("Cancelled"),
                  "failed": lazy_gettext("Failed"), "partially_refunded": lazy_gettext("Partly refunded"),
                  "refunded": lazy_gettext("Refunded")}


_ACTION_LABELS = {
    "access.denied": lazy_gettext("Access denied"),
    "account.updated": lazy_gettext("Account details changed"),
    "address.added": lazy_gettext("Address added"),
    "attribute_label.changed": lazy_gettext("Attribute names changed"),
    "address.deleted": lazy_gettext("Address deleted"),
    "audit.exported": lazy_gettext("Audit log exported"),
    "audit.verified": lazy_gettext("Audit log verified"),
    "discount.activated": lazy_gettext("Discount code switched on"),
    "discount.created": lazy_gettext("Discount code created"),
    "discount.deactivated": lazy_gettext("Discount code switched off"),
    "login.failed": lazy_gettext("Failed login"),
    "login.succeeded": lazy_gettext("Login"),
    "logout": lazy_gettext("Logout"),
    "order.abandoned": lazy_gettext("Checkout abandoned"),
    "order.cancelled": lazy_gettext("Order cancelled"),
    "order.expired": lazy_gettext("Order expired unpaid"),
    "order.paid": lazy_gettext("Order paid"),
    "order.placed": lazy_gettext("Order placed"),
    "order.probed": lazy_gettext("Someone else's order asked for"),
    "order.refunded": lazy_gettext("Refund"),
    "order.refused": lazy_gettext("Checkout refused"),
    "order.shipped": lazy_gettext("Order shipped"),
    "order.failed": lazy_gettext("Checkout failed"),
    "password.change_refused": lazy_gettext("Password change refused"),
    "password.changed": lazy_gettext("Password changed"),
    "password.reset": lazy_gettext("Password set through a link"),
    "password.reset_requested": lazy_gettext("Password link asked for"),
    "password.reset_sent_by_staff": lazy_gettext("Password link sent by staff"),
    "payment.declined": lazy_gettext("Payment declined"),
    "payment.locked": lazy_gettext("Paying paused after declines"),
    "payment.succeeded": lazy_gettext("Payment accepted"),
    "product.created": lazy_gettext("Product created"),
    "product.updated": lazy_gettext("Product edited"),
    "product.archived": lazy_gettext("Product archived"),
    "product.deleted": lazy_gettext("Product deleted"),
    "product.restored": lazy_gettext("Product back on sale"),
    "product.image_added": lazy_gettext("Image added"),
    "product.image_described": lazy_gettext("Image description changed"),
    "product.image_made_main": lazy_gettext("Main image changed"),
    "product.image_removed": lazy_gettext("Image removed"),
    "review.hidden": lazy_gettext("Review hidden"),
    "shipping_method.activated": lazy_gettext("Shipping method switched on"),
    "shipping_method.created": lazy_gettext("Shipping method created"),
    "shipping_method.deactivated": lazy_gettext("Shipping method switched off"),
    "stock.adjusted": lazy_gettext("Stock adjusted"),
    "user.activated": lazy_gettext("Account activated"),
    "user.created": lazy_gettext("Account created by staff"),
    "user.deactivated": lazy_gettext("Account deactivated"),
    "user.reactivated": lazy_gettext("Account reactivated"),
    "user.registered": lazy_gettext("Registration"),
    "user.registration_for_existing_account": lazy_gettext("Registration of an existing account"),
    "user.role_changed": lazy_gettext("Role changed"),
}


_ATTRIBUTE_TYPE_LABELS = {"text": lazy_gettext("Text"), "number": lazy_gettext("Number"),
                          "boolean": lazy_gettext("Yes/no"), "text_list": lazy_gettext("List of texts"),
                          "number_list": lazy_gettext("List of numbers")}


_TAX_CLASS_LABELS = {"general": lazy_gettext("General"), "reduced": lazy_gettext("Reduced"),
                     "super_reduced": lazy_gettext("Super-reduced")}


def tax_class_label(code: str) -> str:
    """"General (21 %)": the class and its configured rate."""
    rate = shop_settings().tax_rates.get(code)
    return f"{_TAX_CLASS_LABELS.get(code, code)} ({percent(rate)})" if rate is not None else code


def percent(rate) -> str:
    """An IVA rate given in percent (21 → "21 %", 5.5 → "5,5 %")."""
    return format_percent(rate / 100, format="#,##0.## %")


def attribute_type_label(kind: str) -> str:
    return str(_ATTRIBUTE_TYPE_LABELS.get(kind, kind))


_DECLINE_LABELS = {"card declined": lazy_gettext("card declined"),
                   "insufficient funds": lazy_gettext("insufficient funds")}


_PAYMENT_LABELS = {"succeeded": lazy_gettext("accepted"), "declined": lazy_gettext("declined"),
                   "pending": lazy_gettext("started, not confirmed"), "orphaned": lazy_gettext("to be refunded"),
                   "refunded": lazy_gettext("refunded")}
_PROVIDER_LABELS = {"simulated": lazy_gettext("simulated payment page"), "redsys": "Redsys", "stripe": "Stripe",
                    "manual": lazy_gettext("recorded by staff")}


def provider_label(method: str) -> str:
    return str(_PROVIDER_LABELS.get(method, method))


def payment_label(status: str) -> str:
    return str(_PAYMENT_LABELS.get(status, status))


def decline_label(reason: str | None) -> str:
    return str(_DECLINE_LABELS.get(reason or "", reason or ""))


def role_label(role: str) -> str:
    return str(_ROLE_LABELS.get(role, role))


def action_label(action: str) -> str:
    """An audit log action as staff read it ("order.paid" → "Pedido pagado"); an action with no label
    yet is shown as its code."""
    return str(_ACTION_LABELS.get(action, action))


def status_label(status: str) -> str:
    return str(_STATUS_LABELS.get(status, status))


def money(amount) -> str:
    return format_currency(amount, "EUR")


def thousands(number: int) -> str:
    """12000 → "12.000" in Spanish: a count written as the page's language writes numbers."""
    return format_decimal(number)


def attribute_value(value) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, float):
        return format_decimal(value)
    if isinstance(value, list):
        return ", ".join(attribute_value(v) for v in value)
    return str(value)


def as_json(value) -> str:
    """Structured data (audit details) as readable JSON text; the template escapes it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def init_app(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(action_label)
    app.add_template_filter(percent)
    app.add_template_filter(thousands)
    app.add_template_filter(as_json)
    app.add_template_filter(attribute_value)
    app.add_template_filter(filter_value_label)
    app.jinja_env.globals.update(get_locale=get_locale, role_label=role_label, status_label=status_label,
                                 attribute_type_label=attribute_type_label, payment_label=payment_label,
                                 decline_label=decline_label, provider_label=provider_label,
                                 tax_class_label=tax_class_label,
                                 tax_classes=TAX_CLASSES, page_sizes=PAGE_SIZES,
                                 format_datetime=format_datetime, format_decimal=format_decimal,
                                 format_date=format_date, format_percent=format_percent, few_left=FEW_LEFT)
