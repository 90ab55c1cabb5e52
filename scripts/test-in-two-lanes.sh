#!/usr/bin/env bash
# Every test, in two lanes at once: the browser tests spend most of their time waiting (on a
# browser, on a shop starting, on a drain), so the integration tests run beside them instead of
# after them.
#   lane 1 (shown as it runs): unit tests, browser tests, then directly on the machine's PostgreSQL
#          what a pooler cannot carry (make test-system-pg);
#   lane 2 (its log shown at the end): integration tests on the embedded PostgreSQL 18, then through
#          PgBouncer on the machine's PostgreSQL (make test-pgbouncer).
# Each pytest run has its own temporary directory; each integration run its own databases. The
# lanes share no Redis database: the browser tests use 13, the integration tests 12 and 15 (the
# tests with 15 run only in lane 1's direct pass).
set -uo pipefail
BIN="$1"; PG_URL="$2"
work=$(mktemp -d /tmp/shop-tests-XXXXXX)
lane2_log="$work/lane2.log"
(
  PYTEST_ADDOPTS="-p no:cacheprovider --basetemp=$work/integration" "$BIN/pytest" tests/integration || exit 1
  PYTEST_ADDOPTS="-p no:cacheprovider --basetemp=$work/pgbouncer" \
    make --no-print-directory test-pgbouncer SYSTEM_PG_URL="$PG_URL" || exit 1
) > "$lane2_log" 2>&1 &
lane2=$!
echo "== lane 2 (integration tests, then through PgBouncer) runs beside this one: its log follows at the end =="
lane1_status=0
# The tests that start and signal whole shops (Ctrl-C, SIGTERM, kill) run last, alone: beside lane
# 2's load, a Ctrl-C once reached a gunicorn worker mid-restart and the runner exited 3.
"$BIN/pytest" tests/unit tests/e2e --ignore=tests/e2e/test_running_the_shop.py --basetemp="$work/browser" \
  || lane1_status=$?
if [ "$lane1_status" -eq 0 ]; then
  PYTEST_ADDOPTS="--basetemp=$work/direct" make --no-print-directory test-system-pg SYSTEM_PG_URL="$PG_URL" \
    || lane1_status=$?
fi
lane2_status=0
wait "$lane2" || lane2_status=$?
echo "== the shop's start and stop tests, alone =="
"$BIN/pytest" tests/e2e/test_running_the_shop.py --basetemp="$work/running" || lane1_status=$?
echo "== lane 2's log =="
cat "$lane2_log"
echo "== lane 1 (unit, browser, direct PostgreSQL): exit $lane1_status; lane 2 (integration, PgBouncer): exit $lane2_status =="
rm -rf "$work"
[ "$lane1_status" -eq 0 ] && [ "$lane2_status" -eq 0 ]
