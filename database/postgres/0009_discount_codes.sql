-- Discount codes (docs/money.md). A code with N uses is never used N+1 times: `uses` counts
-- the uses held by orders and can never pass `max_uses` (a CHECK, and the conditional increment that
-- takes a use locks the code's row, so concurrent checkouts take uses one after the other). A use is
-- taken in the transaction that creates the order (checkout step 1) and belongs to that order; it
-- comes back, exactly once, when the order fails, is cancelled or expires — by a trigger on the order's
-- status history, in the transaction of that change, whichever code path makes it (the checkout's
-- abort, the recovery pass, a cancellation, the expiry sweep).
CREATE TABLE discount_codes (
    code            VARCHAR(32)   PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{2,31}$'),
    kind            VARCHAR(8)    NOT NULL CHECK (kind IN ('percent', 'fixed')),
    value           NUMERIC(12,2) NOT NULL CHECK (value > 0 AND (kind <> 'percent' OR value <= 100)),
    min_order       NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (min_order >= 0),
    starts_at       TIMESTAMPTZ,
    ends_at         TIMESTAMPTZ,
    max_uses        INTEGER       CHECK (max_uses > 0),          -- NULL: no total limit
    max_uses_per_customer INTEGER CHECK (max_uses_per_customer > 0),
    categories      TEXT[]        NOT NULL DEFAULT '{}',           -- empty: every category
    active          BOOLEAN       NOT NULL DEFAULT TRUE,
    uses            INTEGER       NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at      TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT discount_codes_never_over_used CHECK (max_uses IS NULL OR uses <= max_uses),
    CONSTRAINT discount_codes_window CHECK (starts_at IS NULL OR ends_at IS NULL OR starts_at < ends_at)
);

CREATE TABLE discount_uses (
    order_id    INTEGER     PRIMARY KEY REFERENCES orders (order_id) ON DELETE CASCADE,
    code        VARCHAR(32) NOT NULL REFERENCES discount_codes (code),
    user_id     INTEGER     NOT NULL REFERENCES users (user_id),
    taken_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    released_at TIMESTAMPTZ
);
CREATE INDEX discount_uses_held_by_customer ON discount_uses (code, user_id) WHERE released_at IS NULL;

ALTER TABLE orders ADD COLUMN discount_code VARCHAR(32);
ALTER TABLE order_items ADD COLUMN discount_amount NUMERIC(12,2) NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    ADD CONSTRAINT order_items_discount_within_the_line CHECK (discount_amount <= unit_price * quantity);

CREATE FUNCTION release_discount_use() RETURNS trigger AS $$
BEGIN
    WITH released AS (
        UPDATE discount_uses SET released_at = now()
        WHERE order_id = NEW.order_id AND released_at IS NULL RETURNING code)
    UPDATE discount_codes c SET uses = c.uses - 1 FROM released WHERE c.code = released.code;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER order_discount_release AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.to_status IN ('failed', 'cancelled')) EXECUTE FUNCTION release_discount_use();

INSERT INTO schema_migrations (version, name) VALUES ('0009', '0009_discount_codes.sql') ON CONFLICT (version) DO NOTHING;
