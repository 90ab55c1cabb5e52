"""Behind PgBouncer in transaction pooling: nothing may hold session state between
transactions. The advisory locks are transaction-level (a scan keeps session-level ones out);
planner settings are SET LOCAL (shop/adapters/postgres/catalog_reader.py)."""

from __future__ import annotations

import re

from shop.services.recovery import RECOVERY_LOCK_KEY
from tests.conftest import ROOT


def test_the_recovery_lock_lives_in_an_open_transaction_and_ends_with_it(db):
    with db.advisory_lock(RECOVERY_LOCK_KEY) as held:
        assert held
        with db.transaction() as cur:
            cur.execute("""SELECT a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                           WHERE l.locktype = 'advisory' AND l.objid = %s""", (RECOVERY_LOCK_KEY,))
            assert [row["state"] for row in cur.fetchall()] == ["idle in transaction"]
        with db.advisory_lock(RECOVERY_LOCK_KEY) as second:
            assert not second  # one pass at a time
    with db.advisory_lock(RECOVERY_LOCK_KEY) as again:
        assert again  # released with its transaction


def test_no_session_level_advisory_lock_in_the_code():
    session_level = re.compile(r"pg_(try_)?advisory_lock(_shared)?\(|pg_advisory_unlock", re.I)
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "shop").rglob("*.py")
                 if session_level.search(path.read_text())]
    assert offenders == []
