-- Credit notes (facturas rectificativas, docs/money.md): every refund of an invoiced order issues
-- one, in the refund's own transaction, numbered in its own gapless yearly series (R-2026-000001),
-- referencing the invoice it corrects, with negative amounts per IVA rate that add up to the refund.

CREATE TABLE IF NOT EXISTS credit_note_series (
    year         INTEGER PRIMARY KEY,
    last_number  INTEGER NOT NULL CHECK (last_number > 0)
);

CREATE TABLE IF NOT EXISTS credit_notes (
    credit_note_id  SERIAL        PRIMARY KEY,
    refund_id       INTEGER       NOT NULL UNIQUE REFERENCES refunds (refund_id),
    order_id        INTEGER       NOT NULL REFERENCES orders (order_id),
    invoice_id      INTEGER       NOT NULL REFERENCES invoices (invoice_id),
    series_year     INTEGER       NOT NULL,
    number          INTEGER       NOT NULL CHECK (number > 0),
    issued_at       TIMESTAMPTZ   NOT NULL,
    -- R5: the correction of a simplified invoice (art. 15 RD 1619/2012; the AEAT's code list)
    reason_code     VARCHAR(2)    NOT NULL CHECK (reason_code IN ('R1', 'R2', 'R3', 'R4', 'R5')),
    reason          VARCHAR(200)  NOT NULL,
    amount          NUMERIC(12,2) NOT NULL CHECK (amount < 0),
    taxes           JSONB         NOT NULL CHECK (jsonb_typeof(taxes) = 'array'),  -- [[rate, base, IVA], …], negative
    CONSTRAINT credit_notes_one_number_per_series UNIQUE (series_year, number)
);
CREATE INDEX IF NOT EXISTS credit_notes_of_order ON credit_notes (order_id);

INSERT INTO schema_migrations (version, name)
VALUES ('0026', '0026_credit_notes.sql') ON CONFLICT (version) DO NOTHING;
