"""The admin's catalog import page: upload a file, see what it would change (every bad row with its
line, column and reason), then import it, with a progress bar that works without JavaScript.

An upload is kept under the data directory (`imports/<id>.csv`) until it is imported; the import
runs in a thread of the worker that was asked, and writes its progress and report beside the file,
so any worker can show them (the page reloads itself every two seconds while it runs). A worker
that dies mid-import leaves the job without a heartbeat: the page then offers to run it again,
which is safe (an import is idempotent by SKU: shop.services.catalog_import).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
import uuid
from pathlib import Path

from flask import Blueprint, Response, abort, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from shop.adapters.errors import SkuTaken, StoreError
from shop.domain.accounts import Role
from shop.domain.audit import AuditEvent
from shop.domain.catalog_file import RowError, detect_format
from shop.domain.errors import DomainError, InvalidInput
from shop.services import catalog_import as import_service
from shop.services.catalog_import import ImportReport
from shop.web.access import STAFF, roles_required
from shop.web.errors import translate_error
from shop.web.extensions import get_audit_log, get_db, get_store, shop_settings
from shop.web.security import allows_body

bp = Blueprint("imports", __name__, url_prefix="/admin/catalog")
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
STALE_AFTER = dt.timedelta(seconds=30)  # a running import writes its progress more often than this
KEPT_FOR = dt.timedelta(days=2)  # an upload never imported, and an import's report, are kept this long


def row_error_text(problem: RowError) -> str:
    """A bad row's reason in the current language."""
    return translate_error(InvalidInput(problem.message, **problem.params))


def import_summary(report: ImportReport) -> str:
    """"Se crearían 2 productos…", as the page and the command say it."""
    p, v = report.products, report.variants
    if report.dry_run:
        text = gettext("%(rows)d rows read. Products: %(created)d would be created, %(updated)d updated, "
                       "%(unchanged)d left unchanged. Variants: %(v_created)d created, %(v_updated)d updated, "
                       "%(v_unchanged)d unchanged.", rows=report.rows, created=p["created"], updated=p["updated"],
                       unchanged=p["unchanged"], v_created=v["created"], v_updated=v["updated"],
                       v_unchanged=v["unchanged"])
    else:
        text = gettext("%(rows)d rows read. Products: %(created)d created, %(updated)d updated, %(unchanged)d "
                       "unchanged. Variants: %(v_created)d created, %(v_updated)d updated, %(v_unchanged)d "
                       "unchanged. Stock changed on %(stock)d.", rows=report.rows, created=p["created"],
                       updated=p["updated"], unchanged=p["unchanged"], v_created=v["created"],
                       v_updated=v["updated"], v_unchanged=v["unchanged"], stock=report.stock_changes)
    if report.images_added:
        text += " " + ngettext("%(num)d image added.", "%(num)d images added.", report.images_added)
    if report.error_count and report.dry_run:
        text += " " + ngettext("%(num)d bad row: nothing was written.", "%(num)d bad rows: nothing was written.",
                               report.error_count)
    elif report.error_count:
        text += " " + ngettext("%(num)d row could not be applied (below); the rest was imported.",
                               "%(num)d rows could not be applied (below); the rest was imported.",
                               report.error_count)
    return text


def _folder() -> Path:
    folder = shop_settings().data_dir / "imports"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _forget_old_uploads(folder: Path, now: dt.datetime) -> None:
    """Uploads checked but never imported, and the reports of old imports, go after KEPT_FOR (a
    catalog file can hold a whole catalog: the data directory must not fill up with them)."""
    for path in folder.iterdir():
        try:
            if now - dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) > KEPT_FOR:
                path.unlink()
        except OSError:  # another worker removed it first
            continue


def _paths(upload_id: str) -> tuple[Path | None, Path]:
    """The uploaded file (None once imported) and its status file; 404 for an unknown upload."""
    if not _UPLOAD_ID.match(upload_id):
        abort(404)
    folder = _folder()
    status_path = folder / f"{upload_id}.json"
    if not status_path.exists():
        abort(404)
    data = next((p for p in (folder / f"{upload_id}.csv", folder / f"{upload_id}.jsonl") if p.exists()), None)
    return data, status_path


def _state(status_path: Path) -> dict:
    try:
        return json.loads(status_path.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(status_path: Path, state: dict) -> None:
    temporary = status_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, default=str))
    os.replace(temporary, status_path)  # a reader sees the old state or the new one, never half


def _report_state(report: ImportReport) -> dict:
    return {"dry_run": report.dry_run, "rows": report.rows, "products": report.products,
            "variants": report.variants, "stock_changes": report.stock_changes, "error_count": report.error_count,
            "images_added": report.images_added,
            "errors": [[e.line, e.column, e.message, e.params] for e in report.errors]}


def _report_of(state: dict) -> ImportReport:
    return ImportReport(dry_run=state["dry_run"], rows=state["rows"], products=state["products"],
                        variants=state["variants"], stock_changes=state.get("stock_changes", 0),
                        images_added=state.get("images_added", 0),
                        errors=[RowError(line, column, message, params) for line, column, message, params
                                in state["errors"]], error_count=state["error_count"])


@bp.get("/import")
@roles_required(*STAFF)
def form():
    return render_template("staff/catalog_import.html")


@bp.post("/import")
@allows_body(MAX_UPLOAD_BYTES + 64 * 1024)
@roles_required(Role.ADMIN)
def upload():
    sent = request.files.get("catalog")
    if sent is None or not sent.filename:
        return render_template("staff/catalog_import.html", error=gettext("Choose a CSV or JSON Lines file.")), 400
    _forget_old_uploads(_folder(), dt.datetime.now(dt.UTC))
    upload_id = uuid.uuid4().hex
    head = sent.stream.read(64)
    fmt = detect_format(sent.filename, head)
    path = _folder() / f"{upload_id}.{fmt}"
    with open(path, "wb") as saved:
        saved.write(head)
        while chunk := sent.stream.read(1 << 20):
            saved.write(chunk)
    pictures = request.files.get("images")
    if pictures is not None and pictures.filename:
        pictures.save(path.with_suffix(".zip"))
    _write_state(path.with_suffix(".json"), {"name": sent.filename[:200], "status": "uploaded"})
    return _check(upload_id)


def _images(data: Path) -> import_service.ImageFiles | None:
    """The ZIP of pictures uploaded with the file, if there was one."""
    archive = data.with_suffix(".zip")
    return import_service.ImageFiles(str(archive)) if archive.exists() else None


def _check(upload_id: str):
    data, status_path = _paths(upload_id)
    state = _state(status_path)
    if data is None:
        abort(404)
    try:
        report = import_service.import_catalog(get_db(), get_store(), lambda: import_service.rows_of(
            str(data), data.suffix[1:]), dry_run=True, images=_images(data))
    except DomainError as error:
        data.unlink(missing_ok=True)
        data.with_suffix(".zip").unlink(missing_ok=True)
        status_path.unlink(missing_ok=True)
        return render_template("staff/catalog_import.html", error=translate_error(error)), 400
    _write_state(status_path, {**state, "status": "checked", "check": _report_state(report)})
    return redirect(url_for("imports.show", upload_id=upload_id), 303)


@bp.get("/import/<upload_id>")
@roles_required(*STAFF)
def show(upload_id: str):
    data, status_path = _paths(upload_id)
    state = _state(status_path)
    running = state.get("status") == "running"
    heartbeat = dt.datetime.fromisoformat(state["heartbeat"]) if state.get("heartbeat") else None
    stale = running and (heartbeat is None or dt.datetime.now(dt.UTC) - heartbeat > STALE_AFTER)
    return render_template(
        "staff/catalog_import.html", upload_id=upload_id, state=state, running=running and not stale, stale=stale,
        check=_report_of(state["check"]) if "check" in state else None,
        result=_report_of(state["result"]) if "result" in state else None,
        size=data.stat().st_size if data else 0,
        done=min(state.get("bytes", 0), data.stat().st_size) if running and data else 0,
        failure=state.get("failure"))


@bp.post("/import/<upload_id>/apply")
@roles_required(Role.ADMIN)
def apply(upload_id: str):
    data, status_path = _paths(upload_id)
    state = _state(status_path)
    if data is None or "check" not in state or state["check"]["error_count"]:
        abort(409)
    actor = (current_user.user_id, current_user.role.value, request.remote_addr)
    _write_state(status_path, {**state, "status": "running", "bytes": 0,
                               "heartbeat": dt.datetime.now(dt.UTC).isoformat()})
    job = threading.Thread(target=_run, name=f"catalog-import-{upload_id[:8]}", daemon=True,
                           args=(get_db(), get_store(), get_audit_log(), data, status_path, actor))
    job.start()
    return redirect(url_for("imports.show", upload_id=upload_id), 303)


def _run(db, store, audit_log, data: Path, status_path: Path, actor: tuple) -> None:
    """The import itself, in its own thread: progress and the report go to the status file."""
    state = _state(status_path)
    read = [0]

    def counted(n: int) -> None:
        read[0] += n

    def progress(_rows: int) -> None:
        _write_state(status_path, {**state, "status": "running", "bytes": read[0],
                                   "heartbeat": dt.datetime.now(dt.UTC).isoformat()})

    def record(action: str, target: str | None = None, **details: object) -> None:
        audit_log.record(AuditEvent(action, target, actor_id=actor[0], actor_role=actor[1], ip=actor[2],
                                    details={**details, "file": state.get("name")}))

    try:
        report = import_service.import_catalog(db, store, lambda: import_service.rows_of(
            str(data), data.suffix[1:], counted), dry_run=False, record=record, source=state.get("name", ""),
            progress=progress, images=_images(data))
    except (DomainError, SkuTaken, StoreError, import_service.ImportConflict) as error:
        _write_state(status_path, {**state, "status": "failed", "failure": type(error).__name__})
        return
    finally:
        audit_log.flush_spool()
    _write_state(status_path, {**state, "status": "done", "result": _report_state(report)})
    if report.ok:
        data.unlink(missing_ok=True)  # imported: the status file keeps the report
        data.with_suffix(".zip").unlink(missing_ok=True)


@bp.get("/export.<fmt>")
@roles_required(*STAFF)
def export(fmt: str):
    """The whole catalog on sale as a file, streamed (the import's format)."""
    if fmt not in ("csv", "jsonl"):
        abort(404)
    store = get_store()
    chunks = (text for text, _ in import_service.export_chunks(store, fmt))
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    name = f"catalogo-{dt.datetime.now(dt.UTC):%Y%m%d}.{fmt}"
    return Response(stream_with_context(chunks), mimetype=f"{mimetype}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.context_processor
def _helpers() -> dict:
    return {"import_summary": import_summary, "row_error_text": row_error_text}
