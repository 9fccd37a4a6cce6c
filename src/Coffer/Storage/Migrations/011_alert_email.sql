-- Alert emails: each alert is mailed at most once, by whichever node takes it.
ALTER TABLE alerts ADD COLUMN email_status TEXT NOT NULL DEFAULT 'pending';
ALTER TABLE alerts ADD COLUMN email_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN email_error TEXT;
CREATE INDEX ix_alerts_email_pending ON alerts (created_at) WHERE email_status = 'pending';
