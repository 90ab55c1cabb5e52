"""Copying backup sets to where they are kept (the destinations: shop.backup.destinations).

A copy counts only once it has been read back and matched the set's size and SHA-256; the archive
goes first and the manifest last, so a destination lists a set only when all of it is there. A file
is uploaded as `<name>.part` and renamed when complete; a `.part` that an interrupted run left
behind is removed by the next run. Each run also copies the local sets a destination is missing
(an earlier run's copy that failed), not only the newest.
`parse_destinations` reads BACKUP_DESTINATIONS; credentials come from the environment, never from
arguments.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shop.backup.archive import BackupError, list_sets, summary_for
from shop.backup.destinations import (
    PARTIAL_SUFFIX,
    Destination,
    FtpServer,
    LocalDirectory,
    S3Bucket,
    SftpServer,
    inspect_remote_sets,
    remote_sets,
)

log = logging.getLogger(__name__)
RETRIES = 3


def parse_destinations(spec: str, environ: dict) -> list[Destination]:
    """`BACKUP_DESTINATIONS`: comma-separated `file:///dir`, `s3://bucket/prefix`, `sftp://user@host:port/dir`,
    `ftp://user@host:port/dir` (explicit TLS; `?tls=off` for plain FTP), `ftps://…` (the same)."""
    destinations: list[Destination] = []
    for url in filter(None, (part.strip() for part in spec.split(","))):
        parts = urlsplit(url)
        if parts.password:
            raise BackupError(f"{parts.scheme}:// destination: put secrets in the environment, not in the URL")
        if parts.scheme == "file":
            destinations.append(LocalDirectory(Path(unquote(parts.path))))
        elif parts.scheme == "s3":
            destinations.append(S3Bucket(parts.hostname or "", parts.path, environ.get("BACKUP_S3_ENDPOINT_URL")))
        elif parts.scheme == "sftp":
            destinations.append(SftpServer(parts.hostname or "", parts.port or 22, parts.username or "backup",
                                           unquote(parts.path), environ))
        elif parts.scheme in ("ftp", "ftps"):
            plain = parts.query == "tls=off"
            if parts.query and not plain:
                raise BackupError(f"{url!r}: the only option is ?tls=off (plain FTP, password in clear)")
            destinations.append(FtpServer(parts.hostname or "", parts.port or 21, parts.username or "anonymous",
                                          unquote(parts.path), environ, tls=not plain))
        else:
            raise BackupError(f"unknown backup destination {url!r} (use file://, s3://, sftp://, ftp:// or ftps://)")
    return destinations


def remove_leftovers(destination: Destination) -> list[str]:
    """Delete the `.part` files an interrupted upload left (backups run one at a time, so none is
    being written now); returns their names."""
    leftovers = [name for name in destination.names() if name.endswith(PARTIAL_SUFFIX)]
    for name in leftovers:
        destination.delete(name)
        log.info("%s: removed %s, left by an upload that did not finish", destination.label, name)
    return leftovers


def copy_missing_sets(destination: Destination, directory: Path) -> list[str]:
    """Copy every complete local set that `destination` does not have, oldest first (the newest
    set, and any that an earlier run failed to copy); returns their names. Raises BackupError on
    the first set that cannot be copied and verified."""
    def look() -> set[str]:
        remove_leftovers(destination)
        return {info["name"] for info in destination.sets()}

    there = _retried(look, destination, "listing what is there")
    copied = []
    for info in list_sets(directory):
        if info["name"] in there:
            continue
        archive, summary = summary_for(directory, info["name"])
        ship(destination, archive, directory / f"{info['name']}.manifest.json", summary)
        copied.append(info["name"])
    return copied


def _retried(action, destination: Destination, what: str):
    """`action()`, tried RETRIES times across transport errors; then BackupError naming the cause."""
    for attempt in range(1, RETRIES + 1):
        try:
            return action()
        except Exception as error:  # any transport error is retried, then reported
            cause = f"{type(error).__name__}: {error}".strip()
            log.warning("%s: %s failed (attempt %d): %s", destination.label, what, attempt, error)
            if attempt < RETRIES:
                time.sleep(min(2 ** attempt * 0.25, 5))
    raise BackupError(f"{destination.label}: {what} failed after {RETRIES} attempts ({cause}); "
                      "the set is not counted there")


def ship(destination: Destination, archive: Path, manifest: Path, summary: dict) -> None:
    """Copy one set, archive first; each file is read back and checked, retried, or the copy fails."""
    last_problem = "no attempt"
    for local, expected_size, expected_sha in (
            (archive, summary["archive_size"], summary["archive_sha256"]),
            (manifest, manifest.stat().st_size, None)):
        for attempt in range(1, RETRIES + 1):
            try:
                destination.put(local, local.name)
                copy = destination.sha256(local.name)
                if expected_sha is None:
                    expected_sha = hashlib.sha256(local.read_bytes()).hexdigest()
                if copy == (expected_size, expected_sha):
                    break
                last_problem = "the copy read back does not match" if copy else "the copy is not there"
                log.warning("%s: %s: %s (attempt %d)", destination.label, local.name, last_problem, attempt)
            except Exception as error:  # any transport error is retried, then reported
                last_problem = f"{type(error).__name__}: {error}".strip()
                log.warning("%s: uploading %s failed (attempt %d): %s", destination.label, local.name, attempt,
                            error)
            time.sleep(min(2 ** attempt * 0.25, 5))
        else:
            raise BackupError(f"{destination.label}: {local.name} could not be copied and verified after "
                              f"{RETRIES} attempts ({last_problem}); the set is not counted there")


__all__ = ["Destination", "FtpServer", "LocalDirectory", "S3Bucket", "SftpServer", "copy_missing_sets",
           "inspect_remote_sets", "parse_destinations", "remote_sets", "remove_leftovers", "ship"]
