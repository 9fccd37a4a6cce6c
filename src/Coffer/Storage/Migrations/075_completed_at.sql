-- When each entry became completed, so that a balance at any past instant is computed from the ledger alone
-- (GET /v1/wallets/{id}/balance/real-time?at=). Entries completed when they were written: their creation time.
-- Purchases that waited for their invoice and completed before this version kept no such instant; their last update
-- is the nearest one recorded (a later spend from the lot may have moved it), so for them the instant is approximate.
ALTER TABLE wallet_transactions ADD COLUMN completed_at BIGINT;
UPDATE wallet_transactions
SET completed_at = CASE WHEN transaction_reason = 'PURCHASED_CREDIT_INVOICED' THEN updated_at ELSE created_at END
WHERE transaction_status = 'completed';
