-- An order's side effects leave the triggers. What a status change causes (the mail, the invoice,
-- the sales figures, the discount code's use) is decided in shop/domain/order_effects.py and written
-- by shop/adapters/postgres/order_effects.py in the transaction that changes the status; a refund's
-- lines leave the sales figures in shop/adapters/postgres/refunds.py. Each change now carries a
-- reason code, so nothing chooses a mail by matching free text. The changes recorded before are
-- given their code here, once, from what the history says.
ALTER TABLE order_status_history ADD COLUMN reason_code VARCHAR(20);
UPDATE order_status_history h SET reason_code = CASE
    WHEN h.to_status = 'placing' THEN 'checkout_started'
    WHEN h.from_status = 'placing' AND h.to_status = 'pending' THEN 'placed'
    WHEN h.to_status = 'failed' AND h.reason LIKE 'abandoned%' THEN 'abandoned'
    WHEN h.to_status = 'failed' THEN 'checkout_failed'
    WHEN h.to_status = 'paid' AND h.reason = 'nothing to pay' THEN 'nothing_to_pay'
    WHEN h.to_status = 'paid' AND h.reason = 'payment recorded by staff' THEN 'payment_recorded'
    WHEN h.to_status = 'paid' THEN 'payment'
    WHEN h.to_status = 'shipped' THEN 'shipped'
    WHEN h.to_status = 'cancelled' AND h.changed_by IS NULL AND h.reason LIKE 'expired%' THEN 'expired'
    WHEN h.to_status = 'cancelled'
         AND h.changed_by = (SELECT o.user_id FROM orders o WHERE o.order_id = h.order_id) THEN 'customer'
    WHEN h.to_status = 'cancelled' THEN 'staff'
    ELSE 'refund' END;
ALTER TABLE order_status_history ALTER COLUMN reason_code SET NOT NULL,
    ADD CONSTRAINT order_status_history_reason_code_check CHECK (reason_code IN (
        'checkout_started', 'placed', 'checkout_failed', 'abandoned', 'payment', 'nothing_to_pay',
        'payment_recorded', 'shipped', 'customer', 'staff', 'expired', 'refund'));

DROP TRIGGER order_status_mail ON order_status_history;
DROP TRIGGER order_paid_invoice ON order_status_history;
DROP TRIGGER order_paid_sales ON order_status_history;
DROP TRIGGER order_discount_release ON order_status_history;
DROP TRIGGER refund_line_sales ON refund_lines;
DROP FUNCTION enqueue_order_mail();
DROP FUNCTION issue_invoice();
DROP FUNCTION count_paid_order();
DROP FUNCTION release_discount_use();
DROP FUNCTION count_refund_line();

INSERT INTO schema_migrations (version, name) VALUES ('0019', '0019_order_effects_in_python.sql') ON CONFLICT (version) DO NOTHING;
