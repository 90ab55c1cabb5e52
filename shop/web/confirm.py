"""Asking before an action that cannot be undone (cancel an order, refund all that is left, delete a
product, deactivate an account), without JavaScript: the action's form is answered first with a
page that says what will happen and repeats the form with `confirm=yes`; only that second POST acts."""

from __future__ import annotations

from flask import render_template, request


def confirmation_page(question: str, detail: str, yes: str, back: str) -> str | None:
    """None when the person already confirmed (the form carries confirm=yes); otherwise the page
    to answer with, which changes nothing."""
    if request.form.get("confirm") == "yes":
        return None
    fields = [(name, value) for name, value in request.form.items(multi=True) if name not in ("csrf_token", "confirm")]
    return render_template("confirm.html", question=question, detail=detail, yes=yes, back=back,
                           action=request.path, fields=fields)
