"""Prometheus metrics: what the shop is doing (docs/operations.md).

Counters and histograms are updated where things happen; the backlogs (audit spool, mail outbox)
are read from disk when /metrics is scraped. Under gunicorn every worker writes its samples to
PROMETHEUS_MULTIPROC_DIR (set by shop.runner before any worker starts) and a scrape adds up all
workers, so the numbers are the shop's, not one process's. Without that variable (tests, the CLI)
the default single-process registry is used. No Flask, no database here.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUEST_SECONDS = Histogram(
    "shop_http_request_duration_seconds", "Time to answer a request, by endpoint, method and status.",
    ["endpoint", "method", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
CHECKOUTS = Counter(
    "shop_checkouts_total", "Checkouts by outcome (placed, replayed, refused, failed) and reason.",
    ["outcome", "reason"])
RECOVERY_ACTIONS = Counter(
    "shop_recovery_actions_total", "What recovery passes did: aborted, expired (unpaid orders), "
    "stock_returned, holds_settled, holds_released, catalog_synced.", ["action"])
MAILS = Counter("shop_mails_total", "Outbox mails by outcome: sent, retried, failed, uncertain.", ["outcome"])
RATE_LIMIT_STORE_ERRORS = Counter(
    "shop_rate_limit_store_errors_total", "Rate-limit store calls that failed; meanwhile each process counts "
    "its own limits in memory (Flask-Limiter's fallback).")
PAGE_CACHE = Counter(
    "shop_page_cache_lookups_total", "Page cache lookups (CATALOG_CACHE_SECONDS) by kind of entry "
    "(catalog-page, product-page, shared-page, …) and result (hit, miss).", ["kind", "result"])
# Every label set known in advance starts at 0, so that a dashboard or an alert sees "none yet"
# instead of "no data" until the first event (the request histogram's labels are not known ahead).
CHECKOUT_LABELS = (("placed", ""), ("placed", "failed"), ("replayed", ""), ("replayed", "failed"),
                   ("failed", "unavailable"), *(("refused", reason) for reason in (
                       "unpaid_limit", "out_of_stock", "not_found", "invalid", "conflict", "other")))
RECOVERY_ACTION_NAMES = ("aborted", "expired", "stock_returned", "holds_settled", "holds_released", "catalog_synced")
MAIL_OUTCOMES = ("sent", "retried", "failed", "uncertain")
for _labels in CHECKOUT_LABELS:
    CHECKOUTS.labels(*_labels)
for _action in RECOVERY_ACTION_NAMES:
    RECOVERY_ACTIONS.labels(_action)
for _outcome in MAIL_OUTCOMES:
    MAILS.labels(_outcome)
POOL_IN_USE = Gauge("shop_db_pool_connections_in_use", "PostgreSQL connections in use.",
                    multiprocess_mode="livesum")
POOL_WAITING = Gauge("shop_db_pool_waiting", "Requests waiting for a PostgreSQL connection.",
                     multiprocess_mode="livesum")


def render(spool_path: Path, outbox_dir: Path, *, multiprocess_dir: str | None,
           mail_backlog: dict[str, tuple[int, float]] | None = None,
           ready: tuple[bool, dict[str, bool]] | None = None) -> bytes:
    """The exposition text: every worker's samples (from `multiprocess_dir` under gunicorn) plus the
    backlogs read now (`mail_backlog`: the outbox's unsent rows, status → (rows, oldest age)) and
    readiness checked now (`ready`: whether the instance is ready, and whether each database answers)."""
    if multiprocess_dir:
        from prometheus_client import multiprocess  # needs PROMETHEUS_MULTIPROC_DIR set before import

        samples = CollectorRegistry()
        multiprocess.MultiProcessCollector(samples)
    else:
        from prometheus_client import REGISTRY as samples  # noqa: N811 - this process's own samples
    # The backlogs in a registry of their own, made per scrape: registering them on the process-wide
    # registry would make two concurrent scrapes collide (a duplicate-series error).
    backlogs = CollectorRegistry()
    backlogs.register(_BacklogCollector(spool_path, outbox_dir, mail_backlog))
    if ready is not None:
        backlogs.register(_ReadinessCollector(*ready))
    return generate_latest(samples) + generate_latest(backlogs)


class _ReadinessCollector:
    """`shop_ready`: /metrics answers even while a database is down, so `up` alone cannot tell."""

    def __init__(self, ready: bool, databases: dict[str, bool]):
        self.ready, self.databases = ready, databases

    def collect(self):
        yield GaugeMetricFamily("shop_ready", "1 while the instance is ready for requests (what /readyz says).",
                                value=1 if self.ready else 0)
        up = GaugeMetricFamily("shop_database_up", "1 while the database answers within the readiness timeout.",
                               labels=["database"])
        for name, answers in self.databases.items():
            up.add_metric([name], 1 if answers else 0)
        yield up


class _BacklogCollector:
    MAIL_STATUSES = ("pending", "sending", "handing_over", "uncertain", "failed")

    def __init__(self, spool_path: Path, outbox_dir: Path, mail_backlog: dict[str, tuple[int, float]] | None):
        self.spool_path, self.outbox_dir, self.mail_backlog = spool_path, outbox_dir, mail_backlog

    def collect(self):
        lines, oldest = 0, None
        for path in (self.spool_path.with_name(self.spool_path.name + ".flushing"), self.spool_path):
            try:
                with open(path, "rb") as handle:
                    count = sum(1 for line in handle if line.strip())
                if count:
                    lines += count
                    first = _first_ts(path)
                    oldest = first if oldest is None else min(oldest, first)
            except FileNotFoundError:
                continue
        yield GaugeMetricFamily("shop_audit_spool_backlog", "Audit events spooled, not yet in the chain.",
                                value=lines)
        yield GaugeMetricFamily("shop_audit_flush_lag_seconds",
                                "Age of the oldest audit event not yet in the chain (0: none waiting).",
                                value=max(0.0, time.time() - oldest) if oldest else 0.0)
        if self.mail_backlog is not None:  # None: PostgreSQL did not answer; absent, not zero
            yield from self._mail_backlog()
        outbox = self.outbox_dir
        yield GaugeMetricFamily("shop_mail_outbox_files", "E-mails written to the outbox directory (no SMTP).",
                                value=len(list(outbox.glob("*.eml"))) if outbox.is_dir() else 0)


    def _mail_backlog(self):
        rows = GaugeMetricFamily("shop_mail_outbox_rows", "Mails in the outbox not sent yet, by status.",
                                 labels=["status"])
        oldest = GaugeMetricFamily("shop_mail_outbox_oldest_seconds",
                                   "Age of the oldest mail not sent yet, by status (0: none).", labels=["status"])
        for status in self.MAIL_STATUSES:
            count, age = self.mail_backlog.get(status, (0, 0.0))
            rows.add_metric([status], count)
            oldest.add_metric([status], max(0.0, age or 0.0))
        yield rows
        yield oldest


def _first_ts(path: Path) -> float:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    return dt.datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
                except (ValueError, KeyError, TypeError):
                    break
    return path.stat().st_mtime
