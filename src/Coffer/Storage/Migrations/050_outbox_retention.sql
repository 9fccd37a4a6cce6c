-- Delivered outbox events are pruned after a retention period; this index finds them without a scan.
CREATE INDEX ix_outbox_delivered ON outbox_events (delivered_at) WHERE delivered_at IS NOT NULL;
