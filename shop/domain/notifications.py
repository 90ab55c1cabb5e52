"""Rules for the mails the shop owes its customers: when to try again."""

from __future__ import annotations

MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 3600


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 30 s, 1 min, 2 min, … at most 1 h."""
    return float(min(FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), LONGEST_RETRY_SECONDS))
