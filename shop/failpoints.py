"""Fault injection for the checkout protocol's tests: no-ops unless a test switches them on.

`SHOP_FAILPOINTS="checkout.after_reserve=exit"` (read in shop/config.py, refused in production)
makes the named point kill the process with os._exit — no `finally`, no cleanup, like SIGKILL.
Tests in the same process can also install a callable (e.g. one that stops a database server).
"""

from __future__ import annotations

import os
from collections.abc import Callable

_active: dict[str, str | Callable[[], None]] = {}
EXIT_CODE = 137


class FailpointError(RuntimeError):
    """Raised by a failpoint in `raise` mode."""


def configure(spec: str) -> None:
    """`name=action[,name=action]` with action `exit` or `raise`."""
    _active.clear()
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        if action not in ("exit", "raise"):
            raise ValueError(f"unknown failpoint action {action!r} for {name!r} (use exit or raise)")
        _active[name] = action


def install(name: str, action: str | Callable[[], None]) -> None:
    _active[name] = action


def clear() -> None:
    _active.clear()


def hit(name: str) -> None:
    """A named point in the protocol; does nothing unless a test switched it on."""
    action = _active.get(name)
    if action is None:
        return
    if action == "exit":
        os._exit(EXIT_CODE)
    if action == "raise":
        raise FailpointError(name)
    if callable(action):
        action()
