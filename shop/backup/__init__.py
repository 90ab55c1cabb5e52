"""Backups of both databases: one run makes one verified, checksummed, optionally encrypted set,
copies it to every destination, and applies retention everywhere (`ops/backup_script.py`).

A set is `shop-<UTC time>.tar.gz[.enc]` plus `shop-<UTC time>.manifest.json` beside it (readable
without the key). Inside the archive:

    manifest.json                 versions, positions, per-file SHA-256 and size, counts, checksums
    postgres.dump                 pg_dump custom format, taken in the exported snapshot of the cut
    mongo/<db>/<coll>.bson        concatenated BSON documents (mongodump's layout)
    mongo/<db>/<coll>.metadata.json  options (validator), indexes, collection name; canonical Extended JSON

How the two dumps form one consistent cut is in docs/backup.md. The modules: `archive` (the set's
format and its checks), `tools` (pg_dump / pg_restore and connections), `dump` (making a set),
`restore`, `retention` (one code path for the local directory and every destination), `remote`
(the destinations: a directory, S3, SFTP, FTP/FTPS).
"""

from shop.backup.archive import (
    FORMAT_VERSION,
    AlreadyRunning,
    BackupError,
    Source,
    extract,
    inspect_sets,
    list_sets,
    load_key,
    sha256_of,
    summary_for,
    verify_archive,
)
from shop.backup.dump import create_backup, exclusive
from shop.backup.restore import check_restored, check_schema_version, restore, scratch_databases
from shop.backup.retention import apply_retention, sets_to_delete
from shop.backup.tools import find_pg_tool, pgpass_env

__all__ = ["FORMAT_VERSION", "AlreadyRunning", "BackupError", "Source", "apply_retention", "check_restored",
           "check_schema_version", "create_backup", "exclusive", "extract", "find_pg_tool", "inspect_sets",
           "list_sets", "load_key", "pgpass_env", "restore", "scratch_databases", "sets_to_delete", "sha256_of",
           "summary_for", "verify_archive"]
