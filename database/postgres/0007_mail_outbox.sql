-- Order e-mails, reliably: every mail the shop owes a customer is a row here, written in
-- the same transaction as the change it announces, so a mail is never sent for a change that rolled
-- back and never lost for one that committed. A sender delivers them (shop/services/notifications.py,
-- docs/mail.md).

-- The language a customer reads the shop in (set when they choose one; Spanish by default).
ALTER TABLE users ADD COLUMN language VARCHAR(5) NOT NULL DEFAULT 'es' CHECK (language IN ('es', 'en'));

CREATE TABLE mail_outbox (
    mail_id         BIGSERIAL    PRIMARY KEY,
    kind            VARCHAR(40)  NOT NULL,          -- order.placed, order.paid, order.shipped, …
    order_id        INTEGER      REFERENCES orders (order_id) ON DELETE CASCADE,
    to_address      VARCHAR(254) NOT NULL,
    language        VARCHAR(5)   NOT NULL,
    -- pending → sending (claimed by a sender) → handing_over (the message text is being given to
    -- the mail server) → sent. A sender that dies while `sending` gave nothing away: the row goes back
    -- to pending. One that dies while `handing_over` may or may not have delivered it: `uncertain`,
    -- never sent again automatically (at most once per row). `failed`: the server kept refusing.
    status          VARCHAR(12)  NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'handing_over', 'sent', 'failed', 'uncertain')),
    attempts        INTEGER      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ  NOT NULL DEFAULT now(),
    claimed_at      TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    last_error      VARCHAR(500),
    created_at      TIMESTAMPTZ  NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, mail_id) WHERE status = 'pending';
CREATE INDEX mail_outbox_claimed ON mail_outbox (claimed_at) WHERE status IN ('sending', 'handing_over');
CREATE INDEX mail_outbox_by_order ON mail_outbox (order_id, mail_id);

-- Every order status change a customer hears about is written to the history (set_status and the
-- checkout's decision both do, in their transaction); this trigger adds the mail in that same
-- transaction, whatever code path made the change (a request, the expiry sweep, an admin).
CREATE FUNCTION enqueue_order_mail() RETURNS trigger AS $$
DECLARE
    mail_kind TEXT;
BEGIN
    mail_kind := CASE
        WHEN NEW.from_status = 'placing' AND NEW.to_status = 'pending' THEN 'order.placed'
        WHEN NEW.to_status = 'paid' THEN 'order.paid'
        WHEN NEW.to_status = 'shipped' THEN 'order.shipped'
        WHEN NEW.to_status = 'cancelled' AND NEW.changed_by IS NULL AND NEW.reason LIKE 'expired%' THEN 'order.expired'
        WHEN NEW.to_status = 'cancelled' THEN 'order.cancelled'
    END;
    IF mail_kind IS NOT NULL THEN
        INSERT INTO mail_outbox (kind, order_id, to_address, language)
        SELECT mail_kind, o.order_id, u.email, u.language
        FROM orders o JOIN users u USING (user_id) WHERE o.order_id = NEW.order_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER order_status_mail AFTER INSERT ON order_status_history
    FOR EACH ROW EXECUTE FUNCTION enqueue_order_mail();

INSERT INTO schema_migrations (version, name) VALUES ('0007', '0007_mail_outbox.sql') ON CONFLICT (version) DO NOTHING;
