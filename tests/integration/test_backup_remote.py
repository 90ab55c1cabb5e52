"""Copies off the machine: S3 (a moto server on loopback) and SFTP (a real OpenSSH server on loopback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shop import backup
from shop.backup import remote as backup_remote
from shop.embedded import free_port
from shop.services.catalog import load_demo_catalog
from tests.conftest import ROOT

SSHD = "/usr/sbin/sshd"


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch):
    import boto3

    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "BACKUP_S3_ENDPOINT_URL": s3_endpoint}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bucket = f"shop-backups-{os.urandom(3).hex()}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return env, bucket


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A real OpenSSH server on a loopback port, key authentication only, with internal SFTP."""
    if not Path(SSHD).exists():
        pytest.fail(f"{SSHD} is missing: run `make test` (it installs Debian's openssh-server)")
    base = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / name)], check=True)
    (base / "authorized_keys").write_text((base / "client_key.pub").read_text())
    port = free_port()
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    (base / "sshd_config").write_text(f"""
Port {port}
ListenAddress 127.0.0.1
HostKey {base / 'host_key'}
AuthorizedKeysFile {base / 'authorized_keys'}
PidFile {base / 'sshd.pid'}
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
""")
    Path("/run/sshd").mkdir(exist_ok=True) if os.geteuid() == 0 else None
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(base / "sshd_config")],
                               stdout=subprocess.DEVNULL, stderr=open(base / "sshd.log", "wb"))  # noqa: SIM115
    host_key = (base / "host_key.pub").read_text().split()
    (base / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(f"sshd did not start: {(base / 'sshd.log').read_text()}")
    yield {"port": port, "user": user, "base": base,
           "env": {"BACKUP_SFTP_KEY_FILE": str(base / "client_key"),
                   "BACKUP_SFTP_KNOWN_HOSTS": str(base / "known_hosts")}}
    process.terminate()
    process.wait(10)


@pytest.fixture
def source(migrated, servers, mongo_db_name, db, store):
    load_demo_catalog(db, store)
    return backup.Source(migrated, servers.mongodb_url, mongo_db_name)


def run_script(args, env, cwd=ROOT):
    return subprocess.run([sys.executable, "ops/backup_script.py", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)


def base_env(source, local_dir):
    return {**os.environ, "DATABASE_URL": source.postgres_url, "MONGODB_URL": source.mongodb_url,
            "MONGODB_DB": source.mongodb_db, "BACKUP_DIR": str(local_dir)}


def test_a_set_is_copied_verified_and_restorable_from_s3_and_sftp(source, s3_env, sshd, tmp_path):
    s3_vars, bucket = s3_env
    remote_dir = tmp_path / "sftp-target"
    destinations = (f"s3://{bucket}/nightly,sftp://{sshd['user']}@127.0.0.1:{sshd['port']}{remote_dir},"
                    f"file://{tmp_path / 'second-disk'}")
    env = {**base_env(source, tmp_path / "local"), **s3_vars, **sshd["env"], "BACKUP_DESTINATIONS": destinations}
    made = run_script([], env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stdout.count("copied and verified at") == 3
    (local,) = backup.list_sets(tmp_path / "local")
    for destination in backup_remote.parse_destinations(destinations, env):
        (remote,) = backup_remote.remote_sets(destination)
        assert remote["archive_sha256"] == local["archive_sha256"]
    expected = sorted([local["archive"], f"{local['name']}.manifest.json"])
    assert sorted(p.name for p in remote_dir.iterdir()) == expected
    listing = run_script(["list"], env)
    assert listing.stdout.count(local["name"]) == 4  # local + three copies

    shutil.rmtree(tmp_path / "local")  # the machine is lost: restore from off-site
    (tmp_path / "local").mkdir()
    drill = run_script(["verify", local["name"]], env)
    assert drill.returncode == 0 and "PASS" in drill.stdout, drill.stdout + drill.stderr


def test_a_destination_that_fails_is_reported_and_the_others_still_get_their_copy(source, s3_env, tmp_path):
    s3_vars, bucket = s3_env
    destinations = f"s3://no-such-bucket-{os.urandom(3).hex()}/x,file://{tmp_path / 'good'}"
    env = {**base_env(source, tmp_path / "local"), **s3_vars, "BACKUP_DESTINATIONS": destinations}
    run = run_script([], env)
    assert run.returncode == 1
    assert "failed after 3 attempts (" in run.stderr and "The specified bucket does not exist" in run.stderr
    assert len(backup.list_sets(tmp_path / "good")) == 1 and len(backup.list_sets(tmp_path / "local")) == 1


class FlakyDirectory(backup_remote.LocalDirectory):
    """Truncates the first `bad` uploads, like a connection dropped halfway."""

    def __init__(self, path, bad):
        super().__init__(path)
        self.bad = bad

    def put(self, local, name):
        super().put(local, name)
        if self.bad > 0:
            self.bad -= 1
            with open(self.path / name, "r+b") as handle:
                handle.truncate(max(1, (self.path / name).stat().st_size // 2))


def _one_set(source, directory) -> tuple[Path, Path, dict]:
    archive = backup.create_backup(source, directory)
    (summary,) = backup.list_sets(directory)
    return archive, directory / f"{summary['name']}.manifest.json", summary


def test_a_partial_upload_is_retried_until_the_copy_matches(source, tmp_path, monkeypatch):
    monkeypatch.setattr(backup_remote.time, "sleep", lambda s: None)
    archive, manifest, summary = _one_set(source, tmp_path / "local")
    flaky = FlakyDirectory(tmp_path / "remote", bad=2)
    backup_remote.ship(flaky, archive, manifest, summary)
    (remote,) = backup_remote.remote_sets(flaky)
    assert remote["name"] == summary["name"]


def test_an_upload_that_never_matches_is_not_counted(source, tmp_path, monkeypatch):
    monkeypatch.setattr(backup_remote.time, "sleep", lambda s: None)
    archive, manifest, summary = _one_set(source, tmp_path / "local")
    broken = FlakyDirectory(tmp_path / "remote", bad=99)
    with pytest.raises(backup.BackupError, match="not counted"):
        backup_remote.ship(broken, archive, manifest, summary)
    assert backup_remote.remote_sets(broken) == []  # no manifest: not a set there


def test_retention_applies_at_each_destination_and_keeps_the_newest(source, s3_env, tmp_path):
    s3_vars, bucket = s3_env
    env = {**base_env(source, tmp_path / "local"), **s3_vars, "BACKUP_DESTINATIONS": f"s3://{bucket}/r",
           "BACKUP_KEEP_LAST": "2", "BACKUP_KEEP_DAILY": "0", "BACKUP_KEEP_WEEKLY": "0", "BACKUP_KEEP_MONTHLY": "0"}
    for _ in range(3):
        assert run_script([], env).returncode == 0
        time.sleep(1.1)  # set names have one-second resolution
    (destination,) = backup_remote.parse_destinations(env["BACKUP_DESTINATIONS"], env)
    remote = [s["name"] for s in backup_remote.remote_sets(destination)]
    local = [s["name"] for s in backup.list_sets(tmp_path / "local")]
    assert remote == local and len(remote) == 2


def test_secrets_in_a_destination_url_are_refused():
    with pytest.raises(backup.BackupError, match="environment"):
        backup_remote.parse_destinations("sftp://user:hunter2@host/x", {})


def _self_signed_certificate(directory):
    """A certificate for 127.0.0.1 and its key, for a TLS server the client is told to trust."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "ftp-cert.pem", directory / "ftp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def ftpd(tmp_path):
    """A real FTPS server (pyftpdlib, TLS required on control and data) on a loopback port, one user
    with a password, chrooted to a directory; the client trusts its certificate through BACKUP_FTP_CA_FILE."""
    import threading

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

    root = tmp_path / "ftp-root"
    root.mkdir()
    cert, key = _self_signed_certificate(tmp_path)
    authorizer = DummyAuthorizer()
    authorizer.add_user("backup", "ftp secret 1", str(root), perm="elradfmwMT")
    handler = type("Handler", (TLS_FTPHandler,), {"authorizer": authorizer, "certfile": str(cert),
                                                 "keyfile": str(key), "tls_control_required": True,
                                                 "tls_data_required": True})
    server = FTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    yield {"port": server.socket.getsockname()[1], "root": root,
           "env": {"BACKUP_FTP_PASSWORD": "ftp secret 1", "BACKUP_FTP_CA_FILE": str(cert)}}
    server.close_all()


def test_a_set_is_copied_to_ftps_verified_listed_and_restored_from_there(source, ftpd, tmp_path):
    destination_url = f"ftp://backup@127.0.0.1:{ftpd['port']}/shop/nightly"
    env = {**base_env(source, tmp_path / "local"), **ftpd["env"], "BACKUP_DESTINATIONS": destination_url}
    made = run_script([], env)
    assert made.returncode == 0, made.stdout + made.stderr
    assert "copied and verified at ftp://backup@127.0.0.1" in made.stdout
    (local,) = backup.list_sets(tmp_path / "local")
    (destination,) = backup_remote.parse_destinations(destination_url, env)
    assert destination.tls  # TLS unless asked otherwise; the server here refuses anything else
    (remote,) = backup_remote.remote_sets(destination)
    assert remote["archive_sha256"] == local["archive_sha256"]
    stored = sorted(p.name for p in (ftpd["root"] / "shop" / "nightly").iterdir())
    assert stored == sorted([local["archive"], f"{local['name']}.manifest.json"])  # no .part left
    shutil.rmtree(tmp_path / "local")  # the machine is lost: restore from the FTP server
    (tmp_path / "local").mkdir()
    drill = run_script(["verify", local["name"]], env)
    assert drill.returncode == 0 and "PASS" in drill.stdout, drill.stdout + drill.stderr


def test_an_untrusted_certificate_or_a_wrong_password_fails_and_the_local_set_stands(source, ftpd, tmp_path):
    url = f"ftp://backup@127.0.0.1:{ftpd['port']}/shop"
    for env in ({"BACKUP_FTP_PASSWORD": "ftp secret 1"},  # the self-signed certificate is not trusted
                {**ftpd["env"], "BACKUP_FTP_PASSWORD": "wrong"}):
        directory = tmp_path / f"local-{len(env)}"
        run = run_script([], {**base_env(source, directory), **env, "BACKUP_DESTINATIONS": url})
        assert run.returncode == 1 and "failed after 3 attempts" in run.stderr
        assert len(backup.list_sets(directory)) == 1
    assert not list(ftpd["root"].rglob("shop-*"))


def test_plain_ftp_only_when_asked_and_no_other_options():
    (plain,) = backup_remote.parse_destinations("ftp://u@h/x?tls=off", {})
    (tls,) = backup_remote.parse_destinations("ftps://u@h/x", {})
    assert not plain.tls and tls.tls
    with pytest.raises(backup.BackupError, match="tls=off"):
        backup_remote.parse_destinations("ftp://u@h/x?passive=no", {})


def test_a_set_an_ftp_server_refused_is_copied_by_the_next_run_and_the_failure_names_its_cause(
        source, ftpd, tmp_path):
    url = f"ftp://backup@127.0.0.1:{ftpd['port']}/shop"
    env = {**base_env(source, tmp_path / "local"), **ftpd["env"], "BACKUP_DESTINATIONS": url}
    refused = run_script([], {**env, "BACKUP_FTP_PASSWORD": "wrong"})
    assert refused.returncode == 1
    final = refused.stderr.strip().splitlines()[-1]
    assert final.startswith("backup: FAILED: ") and url.split("@")[0] in final
    assert "530" in final  # the server's own answer: authentication failed
    (first,) = backup.list_sets(tmp_path / "local")
    time.sleep(1.1)  # set names have one-second resolution
    caught_up = run_script([], env)
    assert caught_up.returncode == 0, caught_up.stdout + caught_up.stderr
    assert f"1 earlier set(s) it was missing: {first['name']}" in caught_up.stdout
    (destination,) = backup_remote.parse_destinations(url, env)
    assert [info["name"] for info in backup_remote.remote_sets(destination)] == \
        [info["name"] for info in backup.list_sets(tmp_path / "local")]


def test_an_upload_an_earlier_run_left_half_done_on_an_ftp_server_is_removed_by_the_next_run(source, ftpd, tmp_path):
    url = f"ftp://backup@127.0.0.1:{ftpd['port']}/shop"
    env = {**base_env(source, tmp_path / "local"), **ftpd["env"], "BACKUP_DESTINATIONS": url}
    (ftpd["root"] / "shop").mkdir()
    leftover = ftpd["root"] / "shop" / "shop-20261201T031500Z.tar.gz.part"
    leftover.write_bytes(b"half an archive")  # the connection dropped mid-upload, the run was killed
    run = run_script([], env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not leftover.exists()
    assert not [p.name for p in (ftpd["root"] / "shop").iterdir() if p.name.endswith(".part")]


def test_a_damaged_manifest_on_an_ftp_server_is_listed_as_bad_not_skipped(source, ftpd, tmp_path):
    url = f"ftp://backup@127.0.0.1:{ftpd['port']}/shop"
    env = {**base_env(source, tmp_path / "local"), **ftpd["env"], "BACKUP_DESTINATIONS": url}
    assert run_script([], env).returncode == 0
    (manifest,) = (ftpd["root"] / "shop").glob("*.manifest.json")
    manifest.write_bytes(manifest.read_bytes()[:40])  # cut short
    listing = run_script(["list"], env)
    assert listing.returncode == 1
    bad = [line for line in listing.stdout.splitlines() if "BAD" in line]
    assert len(bad) == 1 and "its manifest cannot be read" in bad[0] and bad[0].endswith(url)
    assert "damaged set(s)" in listing.stderr
