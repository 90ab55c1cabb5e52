"""The one name for a JSON-shaped object that crosses a boundary untyped by design: a product's free
`attributes`, an audit entry's `details`, a signed link's claims, a MongoDB document on its way to
a page. Everything with a fixed shape is a dataclass instead."""

from __future__ import annotations

from typing import Any, TypeAlias

JsonObject: TypeAlias = dict[str, Any]
