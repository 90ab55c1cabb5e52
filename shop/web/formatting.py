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

from shop.domain.filters import PAGE_SIZES
from shop.domain.listing import filter_value_label
from shop.domain.taxes import TAX_CLASSES
from shop.web.extensions import shop_settings

_UNITS = {"gb": "GB", "mp": "MP", "horas": "h", "bar": "bar", "litros": "l", "pulgadas": "\"",
          "eu": "EU", "c": "°C", "meses": "", "cm": "cm", "mm": "mm", "kg": "kg", "g": "g", "ml": "ml",
          "l": "l", "w": "W", "mah": "mAh"}


_ROLE_LABELS = {"admin": lazy_gettext("Administrator"), "customer": lazy_gettext("Customer"),
                "auditor": lazy_gettext("Auditor")}
_STATUS_LABELS = {"placing": lazy_gettext("Placing"), "pending": lazy_gettext("Pending payment"),
                  "paid": lazy_gettext("Paid"), "shipped": lazy_gettext("Shipped"),
                  "cancelled": lazy_gettext("Cancelled"),
                  "failed": lazy_gettext("Failed"), "partially_refunded": lazy_gettext("Partly refunded"),
                  "refunded": lazy_gettext("Refunded")}


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


_PAYMENT_LABELS = {"succeeded": lazy_gettext("accepted"), "declined": lazy_gettext("declined")}


def payment_label(status: str) -> str:
    return str(_PAYMENT_LABELS.get(status, status))


def decline_label(reason: str | None) -> str:
    return str(_DECLINE_LABELS.get(reason or "", reason or ""))


def role_label(role: str) -> str:
    return str(_ROLE_LABELS.get(role, role))


def status_label(status: str) -> str:
    return str(_STATUS_LABELS.get(status, status))


def money(amount) -> str:
    return format_currency(amount, "EUR")


def thousands(number: int) -> str:
    """12000 → "12.000" in Spanish: a count written as the page's language writes numbers."""
    return format_decimal(number)


def attribute_label(key: str) -> str:
    """`ram_gb` → "Ram (GB)"; keys are data, so they are shown, not translated."""
    parts = key.split("_")
    unit = _UNITS.get(parts[-1]) if len(parts) > 1 else None
    words = parts[:-1] if unit is not None else parts
    label = " ".join(words).capitalize()
    return f"{label} ({unit})" if unit else label


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
    app.add_template_filter(percent)
    app.add_template_filter(thousands)
    app.add_template_filter(as_json)
    app.add_template_filter(attribute_label)
    app.add_template_filter(attribute_value)
    app.add_template_filter(filter_value_label)
    app.jinja_env.globals.update(get_locale=get_locale, role_label=role_label, status_label=status_label,
                                 attribute_type_label=attribute_type_label, payment_label=payment_label,
                                 decline_label=decline_label, tax_class_label=tax_class_label,
                                 tax_classes=TAX_CLASSES, page_sizes=PAGE_SIZES,
                                 format_datetime=format_datetime, format_decimal=format_decimal,
                                 format_date=format_date, format_percent=format_percent)
