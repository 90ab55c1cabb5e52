"""The hybrid shop: catalog and stock in MongoDB, accounts and orders in PostgreSQL."""


def create_app(test_config=None, settings=None):
    """The Flask application, for `flask --app shop …`. Imported when called, so that importing the
    domain (`shop.domain.*`) never loads Flask or a database driver."""
    from shop.web.factory import create_app as factory  # Flask only when `flask --app shop` asks

    return factory(test_config, settings=settings)


__all__ = ["create_app"]
