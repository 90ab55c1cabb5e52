"""When a refused mail is tried again."""

from shop.domain.notifications import LONGEST_RETRY_SECONDS, retry_delay


def test_a_refused_mail_waits_longer_after_each_attempt_up_to_an_hour():
    delays = [retry_delay(attempts) for attempts in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays == sorted(delays) and max(delays) == LONGEST_RETRY_SECONDS
    assert retry_delay(0) == 30  # never negative or zero, whatever the count
