-- An alert taken for mailing is leased, not owned: if the node mailing it dies, the lease runs out and another
-- node (or the same one after its restart) takes it again. Rows left 'sending' before this have no lease and are
-- taken again at once.
ALTER TABLE alerts ADD COLUMN email_leased_until BIGINT;
CREATE INDEX ix_alerts_email_sending ON alerts (email_leased_until) WHERE email_status = 'sending';
