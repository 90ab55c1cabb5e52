"""Flask CLI commands: `flask --app shop init-db`, `recover`, `catalog-rebuild`, `audit-verify`, `create-user`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import click
from flask import Flask

from shop import bootstrap
from shop.config import Settings
from shop.domain.accounts import parse_role
from shop.domain.errors import DomainError
from shop.services import accounts
from shop.services.audit import AuditLog
from shop.services.catalog import REBUILD_TIMEOUT_MS, rebuild_catalog_index
from shop.services.recovery import recover
from shop.web.extensions import shop_settings


@contextlib.contextmanager
def _databases_for_command() -> Iterator[Settings]:
    """The configured servers, or the embedded ones started for the length of this command."""
    settings = shop_settings()
    if settings.database_url and settings.mongodb_url:
        yield settings
        return
    with bootstrap.data_dir_lock(settings.data_dir), bootstrap.databases(settings) as ready:
        yield ready


def init_app(app: Flask) -> None:
    @app.cli.command("init-db")
    @click.option("--demo/--no-demo", default=False, help="Also load the demo catalog and demo users.")
    def init_db(demo: bool) -> None:
        """Apply the PostgreSQL migrations and the MongoDB validators and indexes (idempotent)."""
        with _databases_for_command() as settings:
            logins = bootstrap.prepare_databases(settings, demo=demo)
        click.echo("Esquemas aplicados en PostgreSQL y MongoDB.")
        if logins:
            bootstrap.demo_credentials(settings.data_dir, logins)
            for login in logins:
                click.echo(f"  {login['role']:<9} {login['email']:<24} {login['password']}")

    @app.cli.command("recover")
    def recover_orders() -> None:
        """One recovery pass: finish interrupted checkouts, expire unpaid orders, return stock."""
        with _databases_for_command() as settings, bootstrap.open_stores(settings) as (db, store):
            report = recover(db, store)
        if not report.ran:
            click.echo("Otra pasada de recuperación está en curso; no se ha hecho nada.")
            return
        click.echo(f"Abortados: {report.aborted}; caducados: {report.expired}; stock devuelto: "
                   f"{report.stock_returned}; reservas liquidadas: {report.holds_settled}, "
                   f"liberadas: {report.holds_released}")

    @app.cli.command("catalog-rebuild")
    def catalog_rebuild() -> None:
        """Rebuild the catalog index (PostgreSQL) from the products in MongoDB, and check its counters."""
        with (_databases_for_command() as settings,
              bootstrap.open_stores(settings, connections=2, timeout_ms=REBUILD_TIMEOUT_MS) as (db, store)):
            count = rebuild_catalog_index(db, store)
        click.echo(f"Índice del catálogo reconstruido: {count} productos.")

    @app.cli.command("audit-verify")
    def audit_verify() -> None:
        """Check the audit log's hash chain; names the first altered, removed or reordered entry."""
        with _databases_for_command() as settings:
            store, db = bootstrap.mongo(settings), bootstrap.postgres(settings, 1)
            try:
                count, broken = AuditLog(store, settings.audit_spool_path, index=db.lists).verify()
            finally:
                store.close()
                db.close()
        if broken is not None:
            raise click.ClickException(f"la cadena del registro de auditoría se rompe en la entrada {broken} "
                                       f"(de {count}): esa entrada fue alterada, borrada o reordenada")
        click.echo(f"Registro de auditoría íntegro: {count} entradas.")

    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--name", "full_name", required=True)
    @click.option("--role", type=click.Choice(["admin", "customer", "auditor"]), default="customer")
    @click.password_option(help="Asked for interactively: never pass a password on the command line.",
                           prompt="Contraseña")
    def create_user(email: str, full_name: str, role: str, password: str) -> None:
        """Create a user with any role (how the first admin of a production shop is made)."""
        with _databases_for_command() as settings:
            db = bootstrap.postgres(settings, connections=1)
            try:
                user = accounts.create_user(db, email, full_name, password, parse_role(role))
            except DomainError as error:
                raise click.ClickException(str(error)) from None
            finally:
                db.close()
        click.echo(f"Usuario {user.email} creado con el rol {user.role.value} (id {user.user_id}).")
