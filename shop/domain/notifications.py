"""Rules for the mails the shop owes its customers: when to try again, and how much to send while
the machine is busy."""

from __future__ import annotations

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 30 s, 1 min, 2 min, … at most 1 h."""
    return float(min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS))


# Mails one sender hands over per pass (every MAIL_SEND_INTERVAL_SECONDS), and while the machine's
# CPU was at least BUSY_CPU_PERCENT busy since the last pass: then checkout comes first and a burst's
# mails wait for it to end (docs/mail.md), but they still flow (never starved: MIN per pass).
MAILS_PER_PASS = 200
MAILS_PER_BUSY_PASS = 20
BUSY_CPU_PERCENT = 90.0


def mails_this_pass(cpu_busy_percent: float | None) -> int:
    """How many mails a sender may hand over now, given how busy the CPU was since its last pass
    (None: not known, as on a platform that does not say)."""
    if cpu_busy_percent is not None and cpu_busy_percent >= BUSY_CPU_PERCENT:
        return MAILS_PER_BUSY_PASS
    return MAILS_PER_PASS
