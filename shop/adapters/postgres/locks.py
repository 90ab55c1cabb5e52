"""Advisory lock keys shared by the PostgreSQL modules (any constants will do; each only has to be
the same in every process)."""

# Every order status change takes this advisory lock in shared mode; a backup takes it exclusively
# for the moment it fixes its cut across both databases (docs/backup.md). Shared holders never wait
# for one another, so checkouts are unaffected unless a backup is cutting.
BACKUP_FENCE_KEY = 7_201_003
# Two-key advisory locks of this class serialise the checkouts from one client address.
ADDRESS_LOCK_CLASS = 7_201_010
