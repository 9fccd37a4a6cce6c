-- Customer tokens: short-lived bearer tokens a merchant's backend mints for one customer, for the browser to call
-- /v1/customer/... (CustomerApi/CustomerTokens.cs). Only the token's SHA-256 is stored, as for API keys.
CREATE TABLE customer_tokens (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_customer_tokens_hash ON customer_tokens (token_hash);
CREATE INDEX ix_customer_tokens_expiry ON customer_tokens (expires_at);

-- The web origins a tenant's customer tokens may be used from (CORS); the one home of client_config.
CREATE TABLE client_origins (
    tenant_id TEXT NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (tenant_id, origin)
);
CREATE INDEX ix_client_origins_origin ON client_origins (origin);
