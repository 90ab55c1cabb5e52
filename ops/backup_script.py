"""Back up both databases and keep verified copies; restore and drill restores. Cron-friendly.

    python ops/backup_script.py [backup] [--dry-run]       make one set, verify it, apply retention
    python ops/backup_script.py list                       the complete sets, oldest first
    python ops/backup_script.py verify [SET]               restore drill into scratch databases (newest set by default;
                                                           also spelled --verify)
    python ops/backup_script.py restore SET [--force]      restore into the configured databases

Configuration is the shop's environment (DATABASE_URL, MONGODB_URL, MONGODB_DB, or the running
development shop's embedded databases) plus BACKUP_* variables (README, docs/backup.md). Exit codes:
0 done, 1 failed (nothing recorded), 2 bad usage or configuration, 3 another backup is running.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shop import backup  # noqa: E402
from shop.backup import remote  # noqa: E402
from shop.config import ConfigError, load_backup_settings, load_settings  # noqa: E402

log = logging.getLogger("backup")


def _source() -> backup.Source:
    settings = load_settings()
    if settings.database_url and settings.mongodb_url:
        return backup.Source(settings.database_url, settings.mongodb_url, settings.mongodb_db)
    from shop.bootstrap import running_shop_databases

    running = running_shop_databases(settings.data_dir)
    if running is None:
        raise ConfigError("set DATABASE_URL and MONGODB_URL, or start the shop (make run) so its embedded "
                          "databases can be backed up")
    return backup.Source(running["database_url"], running["mongodb_url"], running["mongodb_db"])


def _ping(url: str | None, status: str) -> None:
    """Optional monitoring ping (BACKUP_PING_URL): `<url>/success` or `<url>/fail`."""
    if not url:
        return
    if not url.startswith(("http://", "https://")):
        log.warning("BACKUP_PING_URL must be an http(s) URL; not pinged")
        return
    try:
        # The operator's own http(s) URL, checked just above.
        urllib.request.urlopen(f"{url.rstrip('/')}/{status}", timeout=10).close()  # noqa: S310
    except OSError as error:
        log.warning("monitoring ping failed: %s", error)


def cmd_backup(args, config) -> int:
    source = _source()
    if args.dry_run:
        print(f"would dump PostgreSQL {source.postgres_url.split('@')[-1]} and MongoDB database "
              f"{source.mongodb_db} into {config.directory}, encrypted={bool(config.key or config.key_file)}, "
              f"then keep last {config.keep_last}, daily {config.keep_daily}, weekly {config.keep_weekly}, "
              f"monthly {config.keep_monthly}")
        return 0
    key = backup.load_key(config.key_file, config.key)
    destinations = remote.parse_destinations(config.destinations, config.environ or {})
    archive = backup.create_backup(source, config.directory, key=key)
    policy = {"keep_last": config.keep_last, "keep_daily": config.keep_daily, "keep_weekly": config.keep_weekly,
              "keep_monthly": config.keep_monthly}
    deleted = backup.apply_retention(remote.LocalDirectory(config.directory), **policy)
    print(f"backup written: {archive} ({archive.stat().st_size} bytes); retention removed: {deleted or 'nothing'}")
    failed = []
    for destination in destinations:
        try:  # the new set, and any that an earlier run could not copy there
            copied = remote.copy_missing_sets(destination, config.directory)
            removed = backup.apply_retention(destination, **policy)
            earlier = [name for name in copied if not archive.name.startswith(name)]
            also = f" (and {len(earlier)} earlier set(s) it was missing: {', '.join(earlier)})" if earlier else ""
            print(f"copied and verified at {destination.label}{also}; retention removed: {removed or 'nothing'}")
        except Exception as error:  # one destination failing must not stop the others
            print(f"backup: copy to {destination.label} FAILED: {error}", file=sys.stderr)
            failed.append(str(error) if isinstance(error, backup.BackupError)
                          else f"{destination.label}: {type(error).__name__}: {error}")
    if failed:  # main() prints the final FAILED line with these causes and pings "fail"
        raise backup.BackupError(f"the set is stored locally, but {len(failed)} destination(s) failed — "
                                 + "; ".join(failed))
    _ping(config.ping_url, "success")
    return 0


def _all_sets(config) -> list[tuple[str, dict]]:
    found = [(str(config.directory), info) for info in backup.inspect_sets(config.directory)]
    for destination in remote.parse_destinations(config.destinations, config.environ or {}):
        found += [(destination.label, info) for info in remote.inspect_remote_sets(destination)]
    return found


def _fetch(config, name: str, into: Path):
    """A set by name: from the local directory, else downloaded from the first destination that has it."""
    if (config.directory / f"{name}.manifest.json").is_file():
        return backup.summary_for(config.directory, name)
    for destination in remote.parse_destinations(config.destinations, config.environ or {}):
        for info in remote.remote_sets(destination):
            if info["name"] == name:
                destination.get(f"{name}.manifest.json", into / f"{name}.manifest.json")
                destination.get(info["archive"], into / info["archive"])
                return backup.summary_for(into, name)
    raise backup.BackupError(f"no backup set {name} locally or at any destination")


def cmd_list(args, config) -> int:
    bad = 0
    for where, info in _all_sets(config):
        if "problem" in info:
            print(f"{info['name']}  BAD: {info['problem']}  {where}")
            bad += 1
            continue
        counts = info["postgres"]["row_counts"]
        print(f"{info['name']}  {info['archive_size']:>10} bytes  orders={counts.get('orders', 0)} "
              f"products={info['mongodb']['collections'].get('products', {}).get('documents', 0)}"
              f"{'  encrypted' if info.get('encrypted') else ''}  {where}")
    if bad:
        raise backup.BackupError(f"{bad} damaged set(s) listed as BAD; they cannot be restored")
    return 0


def cmd_restore(args, config) -> int:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="shop-fetch-") as tmp:
        archive, summary = _fetch(config, args.set, Path(tmp))
        result = backup.restore(archive, summary, _source(), key=backup.load_key(config.key_file, config.key),
                                force=args.force)
    if not result["ok"]:
        for problem in result["problems"]:
            print(f"  {problem}", file=sys.stderr)
        raise backup.BackupError(f"restore of {args.set} did not match its manifest (problems above)")
    print(json.dumps(result, indent=2))
    print("Start the shop now: its start-up recovery settles orders that were in flight in the backup.")
    return 0


def cmd_verify(args, config) -> int:
    """Restore drill: into scratch databases on the same servers, compared with the manifest, then dropped."""
    import tempfile

    sets = backup.list_sets(config.directory)
    name = args.set or (sets[-1]["name"] if sets else None)
    if name is None:
        raise backup.BackupError(f"no backup sets in {config.directory}")
    key = backup.load_key(config.key_file, config.key)
    with tempfile.TemporaryDirectory(prefix="shop-fetch-") as fetched:
        archive, summary = _fetch(config, name, Path(fetched))
        with backup.scratch_databases(_source(), "shop_restore_drill") as target:
            result = backup.restore(archive, summary, target, key=key)
    print(f"restore drill of {name}: {'PASS' if result['ok'] else 'FAIL'}")
    for problem in result["problems"]:
        print(f"  {problem}")
    if not result["ok"]:
        raise backup.BackupError(f"restore drill of {name} failed (problems above)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("backup", help="make one backup set (the default)")
    run.add_argument("--dry-run", action="store_true")
    sub.add_parser("list", help="list the complete sets")
    verify = sub.add_parser("verify", help="restore drill into scratch databases")
    verify.add_argument("set", nargs="?")
    restore = sub.add_parser("restore", help="restore a set into the configured databases")
    restore.add_argument("set")
    restore.add_argument("--force", action="store_true", help="replace non-empty databases")
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--verify":  # `--verify [SET]`: the restore drill a weekly cron job runs
        argv = ["verify", *argv[1:]]
    if not argv or argv[0].startswith("-"):
        argv = ["backup", *argv]
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_backup_settings()
        failpoints_spec = load_settings().failpoints
        if failpoints_spec:
            from shop import failpoints

            failpoints.configure(failpoints_spec)
        return {"backup": cmd_backup, "list": cmd_list, "restore": cmd_restore, "verify": cmd_verify}[
            args.command](args, config)
    except backup.AlreadyRunning as error:
        print(f"backup: {error}", file=sys.stderr)
        return 3
    except ConfigError as error:
        print(f"backup: configuration: {error}", file=sys.stderr)
        _ping_fail()
        return 2
    except backup.BackupError as error:
        return _failed(str(error))
    except Exception as error:  # anything unforeseen: still one line, exit 1 and the fail ping
        log.debug("unexpected failure", exc_info=True)
        return _failed(f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}")


def _failed(message: str) -> int:
    print(f"backup: FAILED: {message}", file=sys.stderr)
    _ping_fail()
    return 1


def _ping_fail() -> None:
    with contextlib.suppress(ConfigError):  # no settings: nowhere to ping
        _ping(load_backup_settings().ping_url, "fail")


if __name__ == "__main__":
    sys.exit(main())
