-- One lease for every work queue: leased_until (when the lease runs out) and leased_by (the node holding it). A row
-- is free again once released or once leased_until has passed, so a node that dies holding work strands nothing.
ALTER TABLE webhook_deliveries ADD COLUMN leased_by TEXT;

ALTER TABLE auto_topup_attempts ADD COLUMN leased_until BIGINT;
ALTER TABLE auto_topup_attempts ADD COLUMN leased_by TEXT;
-- An attempt taken before this had no lease: it runs out 15 minutes after its last update, as before.
UPDATE auto_topup_attempts SET leased_until = updated_at + 900000000 WHERE status = 'processing';
CREATE INDEX ix_auto_topup_processing ON auto_topup_attempts (leased_until) WHERE status = 'processing';

ALTER TABLE alerts RENAME COLUMN email_leased_until TO leased_until;
ALTER TABLE alerts ADD COLUMN leased_by TEXT;

-- reconcile_after was already the lease (and the back-off) of money in flight; it keeps its values under the common name.
ALTER TABLE payments RENAME COLUMN reconcile_after TO leased_until;
ALTER TABLE payments ADD COLUMN leased_by TEXT;
ALTER TABLE refunds RENAME COLUMN reconcile_after TO leased_until;
ALTER TABLE refunds ADD COLUMN leased_by TEXT;
