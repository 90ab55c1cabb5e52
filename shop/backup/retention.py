"""Which sets to keep (grandfather-father-son) and deleting the others — one code path for the
local backup directory and every remote destination (each is a `Destination`, shop.backup.remote)."""

from __future__ import annotations

import datetime as dt


def sets_to_delete(sets: list[dict], *, keep_last: int, keep_daily: int, keep_weekly: int,
                   keep_monthly: int) -> list[dict]:
    """Grandfather-father-son over sets sorted oldest first: keep the last N, and the newest set of
    each of the last D days, W ISO weeks and M months. The newest set is always kept."""
    if not sets:
        return []
    keep = {s["name"] for s in sets[-max(keep_last, 1):]}
    for period, count in ((lambda d: d.date(), keep_daily), (lambda d: d.isocalendar()[:2], keep_weekly),
                          (lambda d: (d.year, d.month), keep_monthly)):
        seen: list = []
        for info in reversed(sets):
            bucket = period(dt.datetime.fromisoformat(info["created_at"]))
            if bucket not in seen:
                seen.append(bucket)
                if len(seen) <= count:
                    keep.add(info["name"])
    return [info for info in sets if info["name"] not in keep]


def apply_retention(destination, **policy: int) -> list[str]:
    """Delete the sets the policy does not keep at `destination` (the local backup directory or a
    remote one, shop.backup.remote); returns their names. A set's manifest goes first, so a set
    that is half deleted no longer counts as one."""
    deleted = []
    for info in sets_to_delete(destination.sets(), **policy):
        destination.delete(f"{info['name']}.manifest.json")
        destination.delete(info["archive"])
        deleted.append(info["name"])
    return deleted
