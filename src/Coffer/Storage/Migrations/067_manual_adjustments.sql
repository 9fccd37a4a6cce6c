-- Manual adjustments (Wallets/Adjustments.cs): the reason an operator or an API key gave, and who made the entry —
-- actor_type api_key or operator, actor_id the key's or operator's id (never a secret), actor_name the key's name or
-- the operator's e-mail as it was then. NULL on every other entry. An entry's kind (credit, debit, refund, adjustment)
-- follows from its type and reason, so it has no column and needs no backfill.
ALTER TABLE wallet_transactions ADD COLUMN adjustment_reason TEXT;
ALTER TABLE wallet_transactions ADD COLUMN actor_type TEXT;
ALTER TABLE wallet_transactions ADD COLUMN actor_id TEXT;
ALTER TABLE wallet_transactions ADD COLUMN actor_name TEXT;
