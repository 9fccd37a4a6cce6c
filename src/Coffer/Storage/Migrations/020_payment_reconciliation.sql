-- Reconciliation of money in flight: a payment or card refund left PROCESSING/pending (a crash, a time-out, a
-- gateway that answered late) is asked of the gateway again, with the same key, by whichever node leases it.
-- reconcile_after is that lease and the back-off in one: nobody asks before it, and taking a row moves it.
ALTER TABLE payments ADD COLUMN reconcile_after BIGINT;
ALTER TABLE payments ADD COLUMN reconcile_attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ix_payments_in_flight ON payments (payment_status, reconcile_after);

ALTER TABLE refunds ADD COLUMN reconcile_after BIGINT;
ALTER TABLE refunds ADD COLUMN reconcile_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN gateway_refund_id TEXT;
ALTER TABLE refunds ADD COLUMN reason TEXT;
-- The key of the request that reserved a card refund, so whoever settles it (reconciler, webhook) answers that request too.
ALTER TABLE refunds ADD COLUMN idempotency_key TEXT;
CREATE INDEX ix_refunds_status ON refunds (status, reconcile_after);

-- The sandbox gateway's own record of the money it moved, keyed like a real gateway's idempotency keys, so a
-- repeated call answers what the first one did, and tests can compare what the gateway took with what Coffer
-- recorded.
CREATE TABLE sandbox_charges (
    tenant_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    card_number TEXT NOT NULL,
    outcome TEXT NOT NULL,
    amount {decimal} NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);
