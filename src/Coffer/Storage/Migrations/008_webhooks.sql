-- Webhook endpoints, one delivery per (event, endpoint), and every attempt of it.

CREATE TABLE webhook_endpoints (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    event_types TEXT,
    enabled INTEGER NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    disabled_reason TEXT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    leased_until BIGINT,
    last_status_code INTEGER,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ix_deliveries_event ON webhook_deliveries (tenant_id, event_id);
CREATE INDEX ix_deliveries_created ON webhook_deliveries (tenant_id, created_at);

CREATE TABLE webhook_attempts (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    attempt_number INTEGER NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    response_excerpt TEXT,
    error TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_attempts_delivery ON webhook_attempts (tenant_id, delivery_id, attempt_number);
