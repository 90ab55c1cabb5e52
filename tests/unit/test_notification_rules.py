"""When a refused mail is tried again, and how many mails a pass sends."""

from shop.domain.notifications import (
    LONGEST_RETRY_SECONDS,
    MAILS_PER_BUSY_PASS,
    MAILS_PER_PASS,
    mails_this_pass,
    retry_delay,
)


def test_a_refused_mail_waits_longer_after_each_attempt_up_to_an_hour():
    delays = [retry_delay(attempts) for attempts in range(1, 10)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays == sorted(delays) and max(delays) == LONGEST_RETRY_SECONDS
    assert retry_delay(0) == 30  # never negative or zero, whatever the count


def test_a_busy_machine_gets_fewer_mails_per_pass_but_never_none():
    assert mails_this_pass(35.0) == mails_this_pass(None) == MAILS_PER_PASS  # unknown: as if idle
    assert mails_this_pass(89.9) == MAILS_PER_PASS
    assert mails_this_pass(90.0) == mails_this_pass(100.0) == MAILS_PER_BUSY_PASS
    assert 0 < MAILS_PER_BUSY_PASS < MAILS_PER_PASS
