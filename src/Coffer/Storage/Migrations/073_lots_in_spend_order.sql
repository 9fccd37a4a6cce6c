-- A wallet write reads only the first open lots of a wallet in the spend order (priority, then expiry, none of either
-- last, then creation and id; Coffer.Ledger's SpendOrder): in this index's order, so that reading them costs the same
-- with ten lots or ten thousand (Wallets/LedgerRows.cs).
CREATE INDEX ix_wtx_spend_order ON wallet_transactions
    (tenant_id, wallet_id, (priority IS NULL), priority, (expiry_date IS NULL), expiry_date, created_at, id{ordinal})
    WHERE lot_open = 1;
