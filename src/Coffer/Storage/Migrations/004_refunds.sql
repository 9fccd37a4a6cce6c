-- Money returned to a customer: closing a wallet with a refund of its purchased credits (per lot, at the
-- price they were bought), and later refunds of payments.

CREATE TABLE refunds (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT,
    payment_id TEXT,
    amount {decimal} NOT NULL,
    currency TEXT NOT NULL,
    destination TEXT NOT NULL,
    status TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '[]',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_refunds_wallet ON refunds (tenant_id, wallet_id);
CREATE INDEX ix_refunds_payment ON refunds (tenant_id, payment_id);
