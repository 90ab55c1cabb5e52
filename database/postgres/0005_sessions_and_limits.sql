-- Sessions that can be ended (issue 11, item 2): a session is valid only while it carries its user's
-- current session_epoch. Logout, a password change, a role change and deactivation add one to it,
-- which ends every session of that user at once (docs/security.md).
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
