"""The per-process queue of holds to settle on a product's next reservation."""

from shop.services.checkout import SettlementQueue


def test_queued_settlements_are_taken_once_per_product():
    queue = SettlementQueue()
    queue.add("p1", 1)
    queue.add("p1", 2)
    queue.add("p2", 3)
    assert queue.take("p1") == {1, 2}
    assert queue.take("p1") == set()
    assert queue.take("p2") == {3}


def test_settlements_given_back_after_a_failed_reservation_are_kept():
    queue = SettlementQueue()
    queue.add("p1", 1)
    taken = queue.take("p1")
    queue.give_back("p1", taken)
    assert queue.take("p1") == {1}


def test_a_full_queue_asks_the_caller_to_settle_now():
    queue = SettlementQueue(limit=2)
    assert queue.add("p", 1) and queue.add("p", 2)
    assert not queue.add("p", 3)
