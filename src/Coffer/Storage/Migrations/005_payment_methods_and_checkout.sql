-- Saved payment methods (a card at the gateway, or a wallet) in the customer's order of preference, and
-- checkout sessions behind payment links.

CREATE TABLE payment_methods (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    gateway TEXT,
    token TEXT,
    wallet_id TEXT,
    brand TEXT,
    last4 TEXT,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_payment_methods_customer ON payment_methods (tenant_id, customer_id, priority);

CREATE TABLE checkout_sessions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    payment_id TEXT NOT NULL,
    gateway TEXT NOT NULL,
    gateway_session_id TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    amount {decimal} NOT NULL,
    currency TEXT NOT NULL,
    description TEXT,
    success_url TEXT,
    cancel_url TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- The hosted sandbox page finds its session by the unguessable gateway session id alone.
CREATE UNIQUE INDEX ux_checkout_gateway_session ON checkout_sessions (gateway, gateway_session_id);

ALTER TABLE payments ADD COLUMN payment_url TEXT;
ALTER TABLE payments ADD COLUMN refunded_amount {decimal} NOT NULL DEFAULT 0;
