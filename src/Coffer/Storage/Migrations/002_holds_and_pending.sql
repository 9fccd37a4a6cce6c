-- Holds reserve credits for a later capture; pending credits (purchases awaiting payment) are read under
-- the wallet lock on every write, so they get a partial index of their own.

CREATE TABLE holds (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    credits {decimal} NOT NULL,
    captured_credits {decimal} NOT NULL,
    status TEXT NOT NULL,
    expires_at BIGINT,
    debit_id TEXT,
    description TEXT,
    reference_type TEXT,
    reference_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_holds_active ON holds (tenant_id, wallet_id) WHERE status = 'active';
CREATE INDEX ix_holds_expiring ON holds (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
CREATE INDEX ix_holds_wallet_created ON holds (tenant_id, wallet_id, created_at);

CREATE INDEX ix_wtx_pending ON wallet_transactions (tenant_id, wallet_id) WHERE transaction_status = 'pending';
