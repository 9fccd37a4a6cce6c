-- Low-balance alerts: the wallet's current alert state, and a log of every state change.
ALTER TABLE wallets ADD COLUMN alert_state TEXT NOT NULL DEFAULT 'ok';

CREATE TABLE alerts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    previous_state TEXT NOT NULL,
    state TEXT NOT NULL,
    available_balance {decimal} NOT NULL,
    currency TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_alerts_wallet ON alerts (tenant_id, wallet_id, created_at);
CREATE INDEX ix_alerts_created ON alerts (tenant_id, created_at);
