"""Flask CLI commands: `flask --app shop init-db`, `recover`, `catalog-rebuild`, `catalog-import`,
`catalog-export`, `audit-verify`, `invoices-verify`, `create-user`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

import click
from flask import Flask
from flask_babel import force_locale

from shop import bootstrap
from shop.config import Settings
from shop.domain.accounts import parse_role
from shop.domain.audit import AuditEvent
from shop.domain.catalog_file import detect_format
from shop.domain.errors import DomainError
from shop.domain.verifactu import chain_problems
from shop.services import accounts
from shop.services import catalog_import as catalog_import_service
from shop.services import orders as order_service
from shop.services.audit import AuditLog
from shop.services.catalog import REBUILD_TIMEOUT_MS, rebuild_catalog_index
from shop.services.recovery import recover
from shop.web.errors import translate_error
from shop.web.extensions import get_payment_provider, shop_settings
from shop.web.imports import import_summary, row_error_text


@contextlib.contextmanager
def _databases_for_command() -> Iterator[Settings]:
    """The configured servers, or the embedded ones started for the length of this command."""
    settings = shop_settings()
    if settings.database_url and settings.mongodb_url:
        yield settings
        return
    with bootstrap.data_dir_lock(settings.data_dir), bootstrap.databases(settings) as ready:
        yield ready


def _recorder(audit: AuditLog) -> Callable[..., None]:
    """record(action, target, **details) into the audit log, as the system (a command has no user)."""
    def record(action: str, target: str | None = None, **details: object) -> None:
        audit.record(AuditEvent(action, target, details={**details, "by": "command"}))
    return record


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

    @app.cli.command("catalog-import")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--dry-run", is_flag=True, help="Check every row and say what would change; write nothing.")
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None,
                  help="csv or jsonl (default: from the file name, else from its first character).")
    @click.option("--images", "images_zip", type=click.Path(exists=True, dir_okay=False), default=None,
                  help="A ZIP with the images the file's image column names.")
    def catalog_import(path: str, dry_run: bool, fmt: str | None, images_zip: str | None) -> None:
        """Create and update products from a catalog file (docs/catalog.md): idempotent by SKU."""
        with open(path, "rb") as head:
            fmt = fmt or detect_format(path, head.read(64))
        with (_databases_for_command() as settings, bootstrap.open_stores(settings) as (db, store),
              force_locale("es")):
            audit = AuditLog(store, settings.audit_spool_path, index=db.lists)
            record = _recorder(audit)
            with click.progressbar(length=os.path.getsize(path), label="Leyendo" if dry_run else "Importando",
                                   file=sys.stderr) as bar:
                try:
                    images = catalog_import_service.ImageFiles(images_zip) if images_zip else None
                    report = catalog_import_service.import_catalog(
                        db, store, lambda: catalog_import_service.rows_of(path, fmt, bar.update), dry_run=dry_run,
                        record=record, source=os.path.basename(path), images=images)
                except DomainError as error:
                    raise click.ClickException(translate_error(error)) from None
                finally:
                    audit.flush_spool()
            click.echo(import_summary(report))
            for problem in report.errors:
                click.echo(f"  línea {problem.line}, columna {problem.column or '-'}: {row_error_text(problem)}")
            if report.error_count > len(report.errors):
                click.echo(f"  … y {report.error_count - len(report.errors)} filas erróneas más.")
        if not report.ok:
            raise click.ClickException("no se ha escrito nada: corrige las filas indicadas y vuelve a importar"
                                       if dry_run or not report.products["created"] + report.products["updated"]
                                       else "la importación se detuvo: vuelve a ejecutarla para terminarla")

    @app.cli.command("catalog-export")
    @click.argument("output", type=click.File("w", encoding="utf-8", lazy=True), default="-")
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
    def catalog_export(output: TextIO, fmt: str) -> None:
        """Write every product on sale in the import's format (to OUTPUT, or to standard output)."""
        with _databases_for_command() as settings, bootstrap.open_stores(settings) as (_, store):
            count = catalog_import_service.export_catalog(store, fmt, output)
        click.echo(f"Exportados {count} productos.", err=True)

    @app.cli.command("payments-reconcile")
    @click.option("--refund", is_flag=True, help="Refund now every payment received for an order that could not "
                                                 "take it (expired, cancelled, paid twice).")
    @click.option("--unconfirmed-after", default=60, show_default=True,
                  help="Minutes after which an attempt with no notification from the provider is listed.")
    def payments_reconcile(refund: bool, unconfirmed_after: int) -> None:
        """List payments without a paid order and paid orders without a payment (docs/payments.md)."""
        with _databases_for_command() as settings, bootstrap.open_stores(settings) as (db, _):
            report = order_service.reconcile_payments(db, get_payment_provider(), refund=refund,
                                                      unconfirmed_after_minutes=unconfirmed_after)
        for payment_id in report.refunded_now:
            click.echo(f"reembolsado ahora: pago {payment_id}")
        for payment in report.orphaned:
            click.echo(f"cobro sin pedido que lo acepte (por reembolsar): pago {payment.payment_id}, pedido "
                       f"{payment.order_id}, {payment.amount} €, {payment.method} {payment.provider_reference}")
        for payment in report.unconfirmed:
            click.echo(f"intento sin notificación de la pasarela: pago {payment.payment_id}, pedido "
                       f"{payment.order_id}, {payment.amount} €, {payment.method} n.º {payment.provider_order} "
                       "(consúltalo en su panel)")
        for order_id in report.orders_without_payment:
            click.echo(f"pedido pagado sin cobro registrado: pedido {order_id}")
        problems = len(report.orphaned) + len(report.orders_without_payment)
        click.echo(f"Conciliación: {problems} descuadres, {len(report.unconfirmed)} intentos sin confirmar.")
        if problems:
            raise SystemExit(1)

    @app.cli.command("invoices-verify")
    def invoices_verify() -> None:
        """Check the VERI*FACTU records' chain against the invoices and credit notes: names every record
        altered, unchained or no longer matching its document (docs/invoices.md)."""
        with _databases_for_command() as settings:
            db = bootstrap.postgres(settings, 1)
            try:
                stored, head = db.invoice_records.stored()
            finally:
                db.close()
        problems = chain_problems(stored, head)
        if problems:
            raise click.ClickException("los registros de facturación no cuadran:\n  " + "\n  ".join(problems))
        click.echo(f"{len(stored)} registros de facturación encadenados y conformes con sus facturas.")

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
