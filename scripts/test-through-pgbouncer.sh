#!/usr/bin/env bash
# The integration tests once more, through PgBouncer in transaction pooling in front of the
# machine's PostgreSQL. Left out of this pass, and run directly on that server instead (the
# Makefile's SYSTEM_PG_DIRECT_TESTS): the backup tests, since pg_dump and the snapshot it imports
# need a direct connection, the schema scripts, which a deploy applies directly (docs/deploy.md), and
# the dropped-connection tests (a pooler hides the drop). Also left out: the tests of what lives in
# MongoDB alone or of routes and pages (catalog pages, images, variant pages, reviews, the shared
# cache's headers, the API's catalog writes, the access policy, MongoDB's settings): they open no
# PostgreSQL transaction a pooler could change, and the first pass runs them.
set -euo pipefail
BIN="$1"; PG_URL="$2"
if ! "$BIN/python" -c "import psycopg2; psycopg2.connect('$PG_URL', connect_timeout=3).close()" 2>/dev/null; then
  echo "== no PostgreSQL at $PG_URL: PgBouncer pass not run =="; exit 0
fi
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { echo "error: pgbouncer is missing (scripts/ensure-system-packages.sh installs it)" >&2; exit 1; }
PGB=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
work=$(mktemp -d /tmp/shop-pgbouncer-XXXXXX)
port=$("$BIN/python" -c "from shop.embedded import free_port; print(free_port())")
host_port=$("$BIN/python" -c "from urllib.parse import urlsplit; u=urlsplit('$PG_URL'); print(u.hostname, u.port or 5432)")
user=$("$BIN/python" -c "from urllib.parse import urlsplit; print(urlsplit('$PG_URL').username or 'postgres')")
cat > "$work/pgbouncer.ini" <<INI
[databases]
* = host=${host_port% *} port=${host_port#* }
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
max_db_connections = 80
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
echo "\"$user\" \"\"" > "$work/userlist.txt"
if [ "$(id -u)" -eq 0 ]; then  # PgBouncer refuses to run as root
  chown -R postgres "$work"; su postgres -s /bin/sh -c "$PGB -d $work/pgbouncer.ini"
else
  "$PGB" -d "$work/pgbouncer.ini"
fi
trap 'kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 1
echo "== integration tests through PgBouncer (transaction pooling) on port $port =="
TEST_DATABASE_URL="postgresql://$user@127.0.0.1:$port/postgres" TEST_THROUGH_POOLER=1 "$BIN/pytest" tests/integration \
  --ignore=tests/integration/test_backup.py --ignore=tests/integration/test_backup_remote.py \
  --ignore=tests/integration/test_restore_failure_paths.py \
  --ignore=tests/integration/test_schema.py --ignore=tests/integration/test_schema_by_hand.py \
  --ignore=tests/integration/test_odd_input_and_failing_servers.py \
  --ignore=tests/integration/test_access_policy.py --ignore=tests/integration/test_catalog_pages.py \
  --ignore=tests/integration/test_product_images.py --ignore=tests/integration/test_variant_pages.py \
  --ignore=tests/integration/test_reviews.py --ignore=tests/integration/test_shared_pages.py \
  --ignore=tests/integration/test_api_v1_staff_catalog.py --ignore=tests/integration/test_replica_set_settings.py
