"""The shop's REST API for programs, `/api/v1`: JSON in and out, RFC 9457 problems for every error,
an OpenAPI 3.1 document written from the code (shop.web.api_v1.openapi) — docs/api.md.

Who calls (shop.web.api_v1.credentials): a customer with a short-lived access token from
`POST /api/v1/auth/token`, a staff member with a personal API key holding scopes, or a browser with
the shop's session cookie (then, for anything that changes state, the CSRF token too). Every call is
rate limited per token or key, in the shop's shared limit store.
"""

from __future__ import annotations

from shop.web.api_v1 import credentials, openapi, staff, staff_catalog, store  # noqa: F401 - each registers its views on bp
from shop.web.api_v1.blueprint import bp

__all__ = ["bp"]
