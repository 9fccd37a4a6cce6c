-- One idempotency record for every mutating endpoint. A flow whose effect spans a gateway call claims its key
-- before the call and stores the response when it settles, so the status and response may be missing for a
-- while ("in progress"). SQLite cannot drop NOT NULL in place, so the table is rebuilt on both databases.

CREATE TABLE idempotency_keys_v2 (
    tenant_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER,
    response TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);
INSERT INTO idempotency_keys_v2 (tenant_id, idempotency_key, request_hash, status_code, response, created_at)
    SELECT tenant_id, idempotency_key, request_hash, status_code, response, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_v2 RENAME TO idempotency_keys;
CREATE INDEX ix_idempotency_created ON idempotency_keys (created_at);
