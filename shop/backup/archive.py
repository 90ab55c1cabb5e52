"""The backup set's format: names, the manifest, the archive (optionally AES-GCM encrypted) and the
checks that a set is whole — everything that reads or writes a set without touching a database."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
SET_NAME = re.compile(r"^shop-\d{8}T\d{6}Z$")
MAGIC = b"SHOPENC1"


class BackupError(RuntimeError):
    """A backup or restore could not be done; the message says what failed and what to do."""


class AlreadyRunning(BackupError):
    pass


@dataclass(frozen=True)
class Source:
    postgres_url: str
    mongodb_url: str
    mongodb_db: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_key(key_file: str | None, key_b64: str | None) -> bytes | None:
    """A 32-byte AES key from a file or an environment variable (urlsafe base64); never an argument."""
    try:
        raw = Path(key_file).read_text().strip() if key_file else key_b64
    except OSError as error:
        raise BackupError(f"the key file {key_file} cannot be read: {error.strerror or error}") from None
    if not raw:
        return None
    try:
        key = base64.urlsafe_b64decode(raw)
    except ValueError:
        raise BackupError("the backup encryption key is not urlsafe base64") from None
    if len(key) != 32:
        raise BackupError("the backup encryption key must be 32 bytes (python -c \"import base64,os; "
                          "print(base64.urlsafe_b64encode(os.urandom(32)).decode())\")")
    return key


def encrypt(plain: Path, target: Path, key: bytes) -> None:
    nonce = os.urandom(12)
    target.write_bytes(MAGIC + nonce + AESGCM(key).encrypt(nonce, plain.read_bytes(), MAGIC))


def decrypt(encrypted: Path, target: Path, key: bytes | None) -> None:
    if key is None:
        raise BackupError(f"{encrypted.name} is encrypted: set BACKUP_ENCRYPTION_KEY_FILE")
    data = encrypted.read_bytes()
    if not data.startswith(MAGIC):
        raise BackupError(f"{encrypted.name} is not an encrypted backup")
    try:
        target.write_bytes(AESGCM(key).decrypt(data[8:20], data[20:], MAGIC))
    except InvalidTag:
        raise BackupError(f"{encrypted.name}: wrong key, or the file was altered") from None


def list_sets(directory: Path) -> list[dict]:
    """The complete sets in a directory, oldest first (a set without its manifest does not count)."""
    return [info for info in inspect_sets(directory) if "problem" not in info]


def inspect_sets(directory: Path) -> list[dict]:
    """Every set a manifest announces, oldest first; a damaged one is {"name", "problem"} instead of its summary."""
    sets = []
    for manifest in sorted(directory.glob("shop-*.manifest.json")):
        name = manifest.name.removesuffix(".manifest.json")
        try:
            info = json.loads(manifest.read_text())
        except (ValueError, OSError) as error:
            sets.append({"name": name, "problem": f"its manifest cannot be read ({type(error).__name__})"})
            continue
        if not isinstance(info, dict) or not SET_NAME.match(str(info.get("name", ""))):
            sets.append({"name": name, "problem": "its manifest does not describe a backup set"})
        elif not (directory / str(info.get("archive", ""))).is_file() or "/" in str(info.get("archive")):
            sets.append({"name": name, "problem": f"its archive {info.get('archive')!r} is missing"})
        else:
            sets.append(info)
    return sets


def verify_archive(archive: Path, summary: dict, key: bytes | None) -> None:
    """Format, checksum, decryptability, tar member paths and per-file checksums; raises BackupError."""
    check_checksum(archive, summary)
    verify_contents(archive, summary, key)


def check_checksum(archive: Path, summary: dict) -> None:
    """The format is one this shop reads and the archive is the one the manifest describes."""
    if summary.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{archive.name}: unknown backup format {summary.get('format_version')!r}")
    if "archive_sha256" in summary and sha256_of(archive) != summary["archive_sha256"]:
        raise BackupError(f"{archive.name}: checksum mismatch — the archive is corrupted")


def verify_contents(archive: Path, summary: dict, key: bytes | None) -> None:
    """Decryptable, safe to unpack, and every file as the manifest lists it."""
    with tempfile.TemporaryDirectory(prefix="shop-verify-") as tmp:
        check_files(extract(archive, Path(tmp), key), summary["files"])


def extract(archive: Path, target: Path, key: bytes | None) -> Path:
    """Unpack into `target`, refusing absolute paths, `..`, links and devices."""
    plain = archive
    if archive.name.endswith(".enc"):
        plain = target / "archive.tar.gz"
        decrypt(archive, plain, key)
    out = target / "set"
    out.mkdir()
    try:
        with tarfile.open(plain, "r:gz") as tar:
            for member in tar.getmembers():
                path = Path(member.name)
                if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
                    raise BackupError(f"{archive.name}: unsafe entry {member.name!r} in the archive")
            tar.extractall(out, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BackupError(f"{archive.name}: the archive cannot be read ({error})") from None
    return out


def check_files(extracted: Path, files: dict) -> None:
    for rel, info in files.items():
        path = extracted / rel
        if not path.is_file() or path.stat().st_size != info["size"] or sha256_of(path) != info["sha256"]:
            raise BackupError(f"{rel} does not match the manifest — the set is corrupted")


def summary_for(directory: Path, name: str) -> tuple[Path, dict]:
    if not SET_NAME.match(name):
        raise BackupError(f"{name!r} is not a backup set name (shop-YYYYMMDDTHHMMSSZ)")
    manifest = directory / f"{name}.manifest.json"
    if not manifest.is_file():
        raise BackupError(f"no backup set {name} in {directory}")
    try:
        summary = json.loads(manifest.read_text())
        archive = directory / Path(summary["archive"]).name
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{manifest.name} is not a valid manifest — the set is damaged; "
                          "restore another set") from None
    if not archive.is_file():
        raise BackupError(f"the archive of {name} is missing from {directory}")
    return archive, summary
