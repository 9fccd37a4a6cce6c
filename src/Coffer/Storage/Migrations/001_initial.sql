-- {decimal} is NUMERIC on PostgreSQL and TEXT on SQLite (exact digits); instants are BIGINT microseconds
-- since the Unix epoch on both. Tenant id leads every key and index.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    settings TEXT NOT NULL DEFAULT '{}',
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX ux_tenants_default ON tenants (is_default) WHERE is_default = 1;

CREATE TABLE api_keys (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    display_id TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '["read","write"]',
    status TEXT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_api_keys_hash ON api_keys (key_hash);

CREATE TABLE customers (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    address_city TEXT,
    address_state TEXT,
    address_postal_code TEXT,
    address_country TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_customers_external ON customers (tenant_id, external_id) WHERE status <> 'deleted';
CREATE INDEX ix_customers_created ON customers (tenant_id, created_at);

CREATE TABLE wallets (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    currency TEXT NOT NULL,
    wallet_type TEXT NOT NULL,
    wallet_status TEXT NOT NULL,
    conversion_rate {decimal} NOT NULL,
    topup_conversion_rate {decimal} NOT NULL,
    credit_balance {decimal} NOT NULL,
    overdraft_credits {decimal} NOT NULL,
    overdraft_limit {decimal} NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    alert_settings TEXT,
    auto_topup TEXT,
    config TEXT,
    event_seq BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
-- At most one open wallet per customer, currency and type, decided by the database.
CREATE UNIQUE INDEX ux_wallets_open ON wallets (tenant_id, customer_id, currency, wallet_type) WHERE wallet_status <> 'closed';
CREATE INDEX ix_wallets_created ON wallets (tenant_id, created_at);

CREATE TABLE wallet_transactions (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    transaction_reason TEXT NOT NULL,
    transaction_status TEXT NOT NULL,
    amount {decimal} NOT NULL,
    credit_amount {decimal} NOT NULL,
    credit_balance_before {decimal} NOT NULL,
    credit_balance_after {decimal} NOT NULL,
    credits_available {decimal} NOT NULL,
    credits_unsettled {decimal} NOT NULL,
    -- 1 while a credit still has credits to spend / a debit still owes overdraft: keeps the hot queries on
    -- small partial indexes instead of comparing decimals.
    lot_open INTEGER NOT NULL DEFAULT 0,
    debt_open INTEGER NOT NULL DEFAULT 0,
    expiry_date BIGINT,
    priority INTEGER,
    expired_lot_id TEXT,
    reference_type TEXT,
    reference_id TEXT,
    idempotency_key TEXT,
    description TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_wtx_wallet_created ON wallet_transactions (tenant_id, wallet_id, created_at, id);
CREATE INDEX ix_wtx_created ON wallet_transactions (tenant_id, created_at, id);
CREATE INDEX ix_wtx_open_lots ON wallet_transactions (tenant_id, wallet_id) WHERE lot_open = 1;
CREATE INDEX ix_wtx_open_debts ON wallet_transactions (tenant_id, wallet_id) WHERE debt_open = 1;
CREATE INDEX ix_wtx_expiring ON wallet_transactions (expiry_date) WHERE lot_open = 1 AND expiry_date IS NOT NULL;
-- One expiry per lot, even if two sweepers race.
CREATE UNIQUE INDEX ux_wtx_expired_lot ON wallet_transactions (tenant_id, expired_lot_id) WHERE expired_lot_id IS NOT NULL;

CREATE TABLE allocations (
    tenant_id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    debit_id TEXT NOT NULL,
    lot_id TEXT NOT NULL,
    credits {decimal} NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, debit_id, lot_id)
);
CREATE INDEX ix_allocations_wallet ON allocations (tenant_id, wallet_id);

CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);
CREATE INDEX ix_idempotency_created ON idempotency_keys (created_at);

CREATE TABLE outbox_events (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    wallet_id TEXT,
    sequence BIGINT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_outbox_pending ON outbox_events (created_at) WHERE delivered_at IS NULL;
