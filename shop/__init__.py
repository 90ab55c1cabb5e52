"""The hybrid shop: catalog and stock in MongoDB, accounts and orders in PostgreSQL."""

from shop.web.factory import create_app

__all__ = ["create_app"]
