-- VERI*FACTU records (docs/invoices.md): each invoice and credit note issued writes a registro de
-- alta, in the transaction that issues it, fingerprinted with SHA-256 over the AEAT's fields and
-- chained to the record before. The head of the chain is one row, locked while a record is added,
-- so records chain in the order they commit. Nothing here is ever updated or deleted; the
-- invoices-verify command recomputes the chain and compares it with the invoices.

CREATE TABLE IF NOT EXISTS invoice_chain (
    only_row        BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    last_record_id  INTEGER,
    last_hash       VARCHAR(64) NOT NULL DEFAULT ''
);
INSERT INTO invoice_chain (only_row) VALUES (TRUE) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS invoice_records (
    record_id       SERIAL        PRIMARY KEY,
    kind            VARCHAR(9)    NOT NULL CHECK (kind IN ('alta', 'anulacion')),
    invoice_id      INTEGER       REFERENCES invoices (invoice_id),
    credit_note_id  INTEGER       REFERENCES credit_notes (credit_note_id),
    issuer_tax_id   VARCHAR(9)    NOT NULL,
    number          VARCHAR(60)   NOT NULL,
    issued_on       DATE          NOT NULL,
    invoice_kind    VARCHAR(2)    NOT NULL,
    tax_total       NUMERIC(12,2) NOT NULL,
    total           NUMERIC(12,2) NOT NULL,
    previous_hash   VARCHAR(64)   NOT NULL,
    generated       VARCHAR(25)   NOT NULL,  -- FechaHoraHusoGenRegistro exactly as fingerprinted
    hash            CHAR(64)      NOT NULL UNIQUE,
    CONSTRAINT invoice_records_of_one_document CHECK ((invoice_id IS NULL) <> (credit_note_id IS NULL))
);

INSERT INTO schema_migrations (version, name)
VALUES ('0028', '0028_verifactu_records.sql') ON CONFLICT (version) DO NOTHING;
