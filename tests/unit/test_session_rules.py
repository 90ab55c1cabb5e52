"""Session lifetime rules (shop.domain.sessions)."""

from shop.domain.sessions import SessionPolicy, SessionStamp, SessionState

POLICY = SessionPolicy(idle_seconds=3600, absolute_seconds=12 * 3600)
NOW = 1_800_000_000.0


def state(epoch=1, started=NOW - 60, seen=NOW - 60, current=1):
    return POLICY.state(SessionStamp(epoch, started, seen), current, NOW)


def test_a_fresh_session_with_the_current_epoch_is_valid():
    assert state() is SessionState.VALID


def test_another_epoch_means_the_session_was_ended():
    assert state(epoch=1, current=2) is SessionState.REVOKED


def test_idle_and_absolute_lifetimes_end_a_session():
    assert state(seen=NOW - 3599) is SessionState.VALID
    assert state(seen=NOW - 3600) is SessionState.IDLE
    assert state(started=NOW - 12 * 3600 + 1) is SessionState.VALID
    assert state(started=NOW - 12 * 3600) is SessionState.TOO_OLD


def test_a_session_started_in_the_future_is_refused():
    assert state(started=NOW + 3600, seen=NOW) is SessionState.TOO_OLD


def test_missing_or_malformed_stamps_are_no_session():
    assert POLICY.state(SessionStamp.from_session({}), 0, NOW) is SessionState.UNSTAMPED
    assert SessionStamp.from_session({"_epoch": "1", "_started": NOW, "_seen": NOW}) is None
    assert SessionStamp.from_session({"_epoch": 1, "_started": "x", "_seen": NOW}) is None
    stamp = SessionStamp(3, NOW, NOW)
    assert SessionStamp.from_session(stamp.as_session()) == stamp


def test_the_last_use_is_rewritten_at_most_once_a_minute():
    assert not SessionPolicy.needs_touch(SessionStamp(0, NOW, NOW - 59), NOW)
    assert SessionPolicy.needs_touch(SessionStamp(0, NOW, NOW - 60), NOW)
