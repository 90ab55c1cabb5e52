"""The places a backup set can be copied to, each with the same five operations (Destination): a
local directory, S3-compatible storage (boto3), SFTP (paramiko), FTP or FTPS (the standard library's
ftplib); and what a destination holds (`remote_sets`, `inspect_remote_sets`). Uploads go to
`<name>.part` and are renamed when complete. Credentials come from the environment (AWS_* for S3,
BACKUP_SFTP_* for SFTP, BACKUP_FTP_PASSWORD for FTP), never from arguments. How sets are shipped,
checked and retried is shop.backup.remote.
"""

from __future__ import annotations

# The seed names an FTP server as a destination. The connection is TLS unless `?tls=off` asks for
# plain FTP (password in clear: docs/backup.md advises against it).
import contextlib
import ftplib
import hashlib
import json
import os
import shutil
import ssl
import tempfile
from pathlib import Path, PurePosixPath
from typing import Protocol

from shop.backup.archive import SET_NAME, list_sets

PARTIAL_SUFFIX = ".part"  # a file being uploaded; renamed to its name once complete


class Destination(Protocol):
    label: str

    def put(self, local: Path, name: str) -> None: ...
    def sha256(self, name: str) -> tuple[int, str] | None: ...
    def names(self) -> list[str]: ...
    def get(self, name: str, local: Path) -> None: ...
    def delete(self, name: str) -> None: ...
    def sets(self) -> list[dict]: ...  # the complete sets there, oldest first


def _hash_stream(read) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for block in iter(lambda: read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


class _RemoteListing:
    def sets(self: Destination) -> list[dict]:
        return remote_sets(self)


class LocalDirectory:
    def __init__(self, path: Path):
        self.path = path
        self.label = f"file://{path}"

    def put(self, local: Path, name: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        partial = self.path / f"{name}{PARTIAL_SUFFIX}"
        shutil.copyfile(local, partial)
        os.replace(partial, self.path / name)

    def sha256(self, name: str) -> tuple[int, str] | None:
        try:
            with open(self.path / name, "rb") as handle:
                return _hash_stream(handle.read)
        except FileNotFoundError:
            return None

    def names(self) -> list[str]:
        return sorted(p.name for p in self.path.glob("shop-*")) if self.path.is_dir() else []

    def get(self, name: str, local: Path) -> None:
        shutil.copyfile(self.path / name, local)

    def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    def sets(self) -> list[dict]:
        return list_sets(self.path)


class S3Bucket(_RemoteListing):
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        import boto3  # only for an S3 destination: a slow import

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint_url)
        self.label = f"s3://{bucket}/{self.prefix}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, local: Path, name: str) -> None:
        self.client.upload_file(str(local), self.bucket, self._key(name))  # multipart, atomic per object

    def sha256(self, name: str) -> tuple[int, str] | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
        except self.client.exceptions.NoSuchKey:
            return None
        with body:
            return _hash_stream(body.read)

    def names(self) -> list[str]:
        prefix = f"{self.prefix}/shop-" if self.prefix else "shop-"
        names = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            names += [obj["Key"].rsplit("/", 1)[-1] for obj in page.get("Contents", [])]
        return sorted(names)

    def get(self, name: str, local: Path) -> None:
        self.client.download_file(self.bucket, self._key(name), str(local))

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))


class SftpServer(_RemoteListing):
    def __init__(self, host: str, port: int, user: str, path: str, environ: dict):
        self.host, self.port, self.user, self.path = host, port, user, PurePosixPath(path or ".")
        self.environ = environ
        self.label = f"sftp://{user}@{host}:{port}{path}"

    def _connect(self):
        import paramiko  # only for an SFTP destination: a slow import

        client = paramiko.SSHClient()
        known_hosts = self.environ.get("BACKUP_SFTP_KNOWN_HOSTS")
        if known_hosts:
            client.load_host_keys(known_hosts)
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(paramiko.RejectPolicy())  # an unknown server is refused
        client.connect(self.host, port=self.port, username=self.user,
                       key_filename=self.environ.get("BACKUP_SFTP_KEY_FILE") or None,
                       password=self.environ.get("BACKUP_SFTP_PASSWORD") or None,
                       allow_agent=False, look_for_keys=False, timeout=15)
        return client, client.open_sftp()

    def _with_sftp(self, action):
        client, sftp = self._connect()
        try:
            return action(sftp)
        finally:
            sftp.close()
            client.close()

    def put(self, local: Path, name: str) -> None:
        def upload(sftp):
            self._mkdirs(sftp)
            partial = str(self.path / f"{name}{PARTIAL_SUFFIX}")
            sftp.put(str(local), partial)
            sftp.posix_rename(partial, str(self.path / name))

        self._with_sftp(upload)

    def _mkdirs(self, sftp) -> None:
        current = PurePosixPath("/") if self.path.is_absolute() else PurePosixPath(".")
        for part in self.path.parts[1:] if self.path.is_absolute() else self.path.parts:
            current /= part
            try:
                sftp.stat(str(current))
            except FileNotFoundError:
                sftp.mkdir(str(current))

    def sha256(self, name: str) -> tuple[int, str] | None:
        def read(sftp):
            try:
                with sftp.open(str(self.path / name), "rb") as handle:
                    handle.prefetch()
                    return _hash_stream(handle.read)
            except FileNotFoundError:
                return None

        return self._with_sftp(read)

    def names(self) -> list[str]:
        def listing(sftp):
            try:
                return sorted(n for n in sftp.listdir(str(self.path)) if n.startswith("shop-"))
            except FileNotFoundError:
                return []

        return self._with_sftp(listing)

    def get(self, name: str, local: Path) -> None:
        self._with_sftp(lambda sftp: sftp.get(str(self.path / name), str(local)))

    def delete(self, name: str) -> None:
        self._with_sftp(lambda sftp: sftp.remove(str(self.path / name)))


class FtpServer(_RemoteListing):
    """`ftp://user@host:21/dir` (or `ftps://`): explicit TLS (AUTH TLS, data channel protected, the
    server's certificate checked — against BACKUP_FTP_CA_FILE when set); plain FTP only when asked
    with `?tls=off`. Uploads go to `.name.part` and are renamed, so a half-sent file never has the
    set's name."""

    def __init__(self, host: str, port: int, user: str, path: str, environ: dict, tls: bool = True):
        self.host, self.port, self.user, self.tls = host, port, user, tls
        self.path = PurePosixPath(path or "/")
        self.password = environ.get("BACKUP_FTP_PASSWORD") or ""
        self.ca_file = environ.get("BACKUP_FTP_CA_FILE") or None
        self.label = f"ftp://{user}@{host}:{port}{self.path}{'' if tls else ' (plain, no TLS)'}"

    def _with_ftp(self, action):
        ftp = (ftplib.FTP_TLS(context=ssl.create_default_context(cafile=self.ca_file))  # noqa: S321
               if self.tls else ftplib.FTP())  # noqa: S321
        ftp.connect(self.host, self.port, timeout=30)
        try:
            ftp.login(self.user, self.password)
            if self.tls:
                ftp.prot_p()
            return action(ftp)
        finally:
            try:
                ftp.quit()
            except (OSError, ftplib.Error):
                ftp.close()

    def put(self, local: Path, name: str) -> None:
        def upload(ftp):
            current = PurePosixPath("/")
            for part in self.path.parts[1:]:
                current /= part
                with contextlib.suppress(ftplib.error_perm):  # exists already
                    ftp.mkd(str(current))
            partial = str(self.path / f"{name}{PARTIAL_SUFFIX}")
            with open(local, "rb") as handle:
                ftp.storbinary(f"STOR {partial}", handle)
            ftp.rename(partial, str(self.path / name))

        self._with_ftp(upload)

    def sha256(self, name: str) -> tuple[int, str] | None:
        def read(ftp):
            digest, size = hashlib.sha256(), 0

            def take(block: bytes) -> None:
                nonlocal size
                digest.update(block)
                size += len(block)

            try:
                ftp.retrbinary(f"RETR {self.path / name}", take)
            except ftplib.error_perm:  # 550: no such file
                return None
            return size, digest.hexdigest()

        return self._with_ftp(read)

    def names(self) -> list[str]:
        def listing(ftp):
            try:
                return sorted(n.rsplit("/", 1)[-1] for n in ftp.nlst(str(self.path))
                              if n.rsplit("/", 1)[-1].startswith("shop-"))
            except ftplib.error_perm:  # no such directory yet
                return []
            except ssl.SSLError as error:
                # An empty directory over TLS: some servers close the data connection before its
                # TLS handshake ends (nothing to send), and closing it then fails. No data could
                # have been sent on a connection whose handshake never ended.
                if "SHUTDOWN_WHILE_IN_INIT" in str(error):
                    return []
                raise

        return self._with_ftp(listing)

    def get(self, name: str, local: Path) -> None:
        with open(local, "wb") as handle:
            self._with_ftp(lambda ftp: ftp.retrbinary(f"RETR {self.path / name}", handle.write))

    def delete(self, name: str) -> None:
        self._with_ftp(lambda ftp: ftp.delete(str(self.path / name)))


def remote_sets(destination: Destination) -> list[dict]:
    """Complete sets at a destination: those whose manifest and archive are both there."""
    return [info for info in inspect_remote_sets(destination) if "problem" not in info]


def inspect_remote_sets(destination: Destination) -> list[dict]:
    """Every set a manifest at `destination` announces, oldest first; a damaged one (a manifest that
    cannot be read, or whose archive is missing) is {"name", "problem"} — as locally (inspect_sets)."""
    names = set(destination.names())
    sets = []
    for manifest_name in sorted(n for n in names if n.endswith(".manifest.json")):
        name = manifest_name.removesuffix(".manifest.json")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / manifest_name
            destination.get(manifest_name, local)
            try:
                info = json.loads(local.read_text())
            except (ValueError, UnicodeDecodeError) as error:
                sets.append({"name": name, "problem": f"its manifest cannot be read ({type(error).__name__})"})
                continue
        if not isinstance(info, dict) or not SET_NAME.match(str(info.get("name", ""))):
            sets.append({"name": name, "problem": "its manifest does not describe a backup set"})
        elif info.get("archive") not in names:
            sets.append({"name": name, "problem": f"its archive {info.get('archive')!r} is missing"})
        else:
            sets.append(info)
    return sets
