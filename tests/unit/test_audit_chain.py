"""The audit log's hash chain: any change, removal or reordering is found at its entry."""

import datetime as dt

from shop.domain.audit import GENESIS_HASH, AuditEvent, chain_entry, first_broken_entry


def chain(n: int) -> list[dict]:
    entries, previous = [], GENESIS_HASH
    for seq in range(1, n + 1):
        event = AuditEvent(action="order.placed", target=f"order:{seq}", actor_id=7, actor_role="customer",
                           ip="127.0.0.1", details={"total": "10.00", "items": [{"qty": 1}]},
                           ts=dt.datetime(2026, 1, 1, 12, 0, seq, 123000, tzinfo=dt.timezone.utc))
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


def test_a_removed_or_reordered_entry_is_found():
    entries = chain(5)
    assert first_broken_entry(entries[:2] + entries[3:]) == 4
    assert first_broken_entry([entries[1], entries[0]]) == 2


def test_naive_and_aware_times_hash_alike():
    entry = chain(1)[0]
    naive = {**entry, "ts": entry["ts"].replace(tzinfo=None)}
    assert first_broken_entry([naive]) is None
