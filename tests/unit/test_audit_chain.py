"""The audit log's hash chain: any change, removal or reordering is found at its entry."""

import datetime as dt

from shop.domain.audit import GENESIS_HASH, AuditEvent, chain_entry, first_broken_entry


def chain(n: int) -> list[dict]:
    entries, previous = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = AuditEvent(action="order.placed", target=f"order:{seq}", actor_id=7, actor_role="customer",
                           ip="127.0.0.1", details={"total": "10.00", "items": [{"qty": 1}]},
                           ts=dt.datetime(2026, 1, 1, 12, 0, seq, 123000, tzinfo=dt.UTC))
        entry = chain_entry(event, seq, previous)
        entries.append(entry)
        previous = entry["hash"]
    return entries


def test_an_intact_chain_verifies():
    assert first_broken_entry(chain(5)) is None
    assert first_broken_entry([]) is None


def test_an_altered_entry_breaks_the_chain_at_that_entry():
    entries = chain(5)
    entries[2]["details"]["total"] = "0.01"
    assert first_broken_entry(entries) == 3


def test_a_recomputed_hash_still_breaks_the_next_entry():
    from shop.domain.audit import entry_hash

    entries = chain(5)
    entries[2]["target"] = "order:999"
    entries[2]["hash"] = entry_hash(entries[2], entries[2]["prev_hash"])  # a careful forger
    assert first_broken_entry(entries) == 4


def test_a_removed_or_reordered_entry_is_found_where_the_chain_breaks():
    # The position is reported, never the entry's own seq (which a forger controls).
    entries = chain(5)
    assert first_broken_entry(entries[:2] + entries[3:]) == 3  # entry 3 is missing
    assert first_broken_entry([entries[1], entries[0]]) == 1  # the first place holds another entry


def test_naive_and_aware_times_hash_alike():
    entry = chain(1)[0]
    naive = {**entry, "ts": entry["ts"].replace(tzinfo=None)}
    assert first_broken_entry([naive]) is None


def test_spooled_events_survive_a_rotation_race(tmp_path):
    """Writers racing the flusher's rename never lose a line (no database needed: rotation only)."""
    import threading

    from shop.services.audit import AuditLog

    log = AuditLog(store=None, spool_path=tmp_path / "spool.jsonl")
    stop = threading.Event()
    rotated = []

    def rotate_repeatedly():
        while not stop.is_set():
            log._rotate()
            if log._flushing_path.exists():
                rotated.append(log._flushing_path.read_text())
                log._flushing_path.unlink()

    rotator = threading.Thread(target=rotate_repeatedly)
    rotator.start()
    writers = [threading.Thread(target=lambda w=w: [log.record(AuditEvent("x", f"{w}:{i}")) for i in range(200)])
               for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    rotator.join()
    log._rotate()
    rest = log._flushing_path.read_text() if log._flushing_path.exists() else ""
    lines = [line for chunk in [*rotated, rest] for line in chunk.splitlines() if line]
    assert len(lines) == 800
