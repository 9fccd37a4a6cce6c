-- Automatic top-up: every trigger, purchase, skip and failure, and at most one purchase in flight per wallet
-- (decided by the partial unique index, however many debits cross the threshold at once).

CREATE TABLE auto_topup_attempts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    credits {decimal},
    invoice_id TEXT,
    payment_id TEXT,
    error TEXT,
    suppressed INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_auto_topup_in_flight ON auto_topup_attempts (tenant_id, wallet_id) WHERE status IN ('pending', 'processing');
CREATE INDEX ix_auto_topup_wallet ON auto_topup_attempts (tenant_id, wallet_id, created_at);
CREATE INDEX ix_auto_topup_pending ON auto_topup_attempts (created_at) WHERE status = 'pending';
