-- IVA and invoices (docs/money.md). Prices include IVA; each order line keeps the rate it
-- was sold at and its share of the order's IVA (shop/domain/taxes.py: per rate, then cents shared
-- by largest remainder, so the lines always add up). Lines sold before this version have neither.
ALTER TABLE order_items
    ADD COLUMN tax_rate   NUMERIC(5,2)  CHECK (tax_rate >= 0 AND tax_rate <= 100),
    ADD COLUMN tax_amount NUMERIC(12,2) CHECK (tax_amount >= 0),
    ADD CONSTRAINT order_items_tax_with_its_rate CHECK ((tax_rate IS NULL) = (tax_amount IS NULL)),
    ADD CONSTRAINT order_items_tax_within_the_line CHECK (tax_amount <= unit_price * quantity);

-- A simplified invoice (factura simplificada) for every paid order, numbered in a gapless series per
-- calendar year (Madrid time). The number is taken in the transaction that marks the order paid: the
-- series row is locked until that transaction ends, so concurrent payments take consecutive numbers,
-- and a payment that rolls back gives its number back (nothing was committed). Unique per order and
-- per (year, number): a second invoice for an order is an error that undoes the whole transaction.
CREATE TABLE invoice_series (
    year        INTEGER PRIMARY KEY,
    last_number INTEGER NOT NULL CHECK (last_number > 0)
);

CREATE TABLE invoices (
    invoice_id  SERIAL      PRIMARY KEY,
    order_id    INTEGER     NOT NULL UNIQUE REFERENCES orders (order_id),
    series_year INTEGER     NOT NULL,
    number      INTEGER     NOT NULL CHECK (number > 0),
    issued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT invoices_one_number_per_series UNIQUE (series_year, number)
);

CREATE FUNCTION issue_invoice() RETURNS trigger AS $$
DECLARE
    series INTEGER := extract(year FROM now() AT TIME ZONE 'Europe/Madrid');
    taken  INTEGER;
BEGIN
    INSERT INTO invoice_series AS s (year, last_number) VALUES (series, 1)
        ON CONFLICT (year) DO UPDATE SET last_number = s.last_number + 1
        RETURNING last_number INTO taken;
    INSERT INTO invoices (order_id, series_year, number) VALUES (NEW.order_id, series, taken);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

-- Before the mail trigger (triggers fire in name order), so the "paid" mail can name the invoice.
CREATE TRIGGER order_paid_invoice AFTER INSERT ON order_status_history
    FOR EACH ROW WHEN (NEW.to_status = 'paid') EXECUTE FUNCTION issue_invoice();

INSERT INTO schema_migrations (version, name) VALUES ('0008', '0008_iva_and_invoices.sql') ON CONFLICT (version) DO NOTHING;
