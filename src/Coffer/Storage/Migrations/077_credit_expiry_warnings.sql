-- Warnings before credits expire (wallet.credits_expiring): when a lot was warned of, so that it is warned of once,
-- ever. The UPDATE that sets it, under the wallet's lock, decides which round (or node) tells anyone.
ALTER TABLE wallet_transactions ADD COLUMN expiry_warned_at BIGINT;
-- The warnings' search, per tenant in expiry order: open lots with an expiry not yet warned of. Warned, spent and
-- never-expiring lots leave the index, so it stays as small as what is still to be told.
CREATE INDEX ix_wtx_expiry_unwarned ON wallet_transactions (tenant_id, expiry_date)
    WHERE lot_open = 1 AND expiry_date IS NOT NULL AND expiry_warned_at IS NULL;
-- The alert log (which the alert mailer mails) holds expiry warnings too: the kind of each alert, and for a warning the
-- lot, the credits left in it and the instant they expire. Every alert before this is a balance alert.
ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'balance';
ALTER TABLE alerts ADD COLUMN transaction_id TEXT;
ALTER TABLE alerts ADD COLUMN credits {decimal};
ALTER TABLE alerts ADD COLUMN expiry_date BIGINT;
