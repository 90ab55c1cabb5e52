-- Full invoices (facturas completas, docs/money.md): an order over SIMPLIFIED_INVOICE_LIMIT, or one
-- whose customer asked, is invoiced in the F series, made out to the customer's name, tax id and
-- fiscal address as given at checkout. FS (simplified) and F each number their invoices per year
-- without gaps: the series row of (series, year) is the one locked while a number is taken.

ALTER TABLE orders ADD COLUMN IF NOT EXISTS invoice_party JSONB;  -- {name, tax_id, address}: a full invoice

ALTER TABLE invoice_series ADD COLUMN IF NOT EXISTS series VARCHAR(2) NOT NULL DEFAULT 'FS'
    CHECK (series IN ('FS', 'F'));
ALTER TABLE invoice_series DROP CONSTRAINT IF EXISTS invoice_series_pkey;
ALTER TABLE invoice_series ADD CONSTRAINT invoice_series_pkey PRIMARY KEY (series, year);

ALTER TABLE invoices ADD COLUMN IF NOT EXISTS series VARCHAR(2) NOT NULL DEFAULT 'FS' CHECK (series IN ('FS', 'F'));
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS party JSONB;
ALTER TABLE invoices DROP CONSTRAINT IF EXISTS invoices_one_number_per_series;
ALTER TABLE invoices ADD CONSTRAINT invoices_one_number_per_series UNIQUE (series, series_year, number);
ALTER TABLE invoices ADD CONSTRAINT invoices_full_ones_name_their_customer CHECK ((series = 'F') = (party IS NOT NULL));

-- The accountant's book of invoices issued (docs/money.md) reads a date range of both.
CREATE INDEX IF NOT EXISTS invoices_by_date ON invoices (issued_at);
CREATE INDEX IF NOT EXISTS credit_notes_by_date ON credit_notes (issued_at);

INSERT INTO schema_migrations (version, name)
VALUES ('0027', '0027_full_invoices.sql') ON CONFLICT (version) DO NOTHING;
