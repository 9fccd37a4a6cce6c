-- Idempotency answers and outbox events are stored packed (Storage/PackedJson.cs): new rows fill the *_packed
-- column and leave the text column null; rows written before keep their text. SQLite cannot drop NOT NULL in
-- place, so the outbox table is rebuilt on both databases (it holds only recent events; delivered ones are pruned).

ALTER TABLE idempotency_keys ADD COLUMN response_packed {bytes};

CREATE TABLE outbox_events_v2 (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    wallet_id TEXT,
    sequence BIGINT NOT NULL,
    payload TEXT,
    payload_packed {bytes},
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    PRIMARY KEY (tenant_id, id)
);
INSERT INTO outbox_events_v2 (tenant_id, id, event_type, wallet_id, sequence, payload, created_at, delivered_at)
    SELECT tenant_id, id, event_type, wallet_id, sequence, payload, created_at, delivered_at FROM outbox_events;
DROP TABLE outbox_events;
ALTER TABLE outbox_events_v2 RENAME TO outbox_events;
CREATE INDEX ix_outbox_pending ON outbox_events (created_at) WHERE delivered_at IS NULL;
CREATE INDEX ix_outbox_delivered ON outbox_events (delivered_at) WHERE delivered_at IS NOT NULL;
