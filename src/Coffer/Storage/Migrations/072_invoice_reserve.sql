-- The wallet that pays an invoice once it has funds (an auto-pay customer's invoice, or one partly paid from it): the
-- invoice's unpaid remainder is then part of that wallet's pending charges (Invoices/InvoiceReserve.cs).
ALTER TABLE invoices ADD COLUMN pay_from_wallet_id TEXT;
CREATE INDEX ix_invoices_pay_from_wallet ON invoices (tenant_id, pay_from_wallet_id) WHERE pay_from_wallet_id IS NOT NULL;

-- Wallets whose new funds should pay their waiting invoices: one row per wallet (id = the wallet's id), leased by the
-- invoice collector.
CREATE TABLE invoice_collections (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    leased_until BIGINT,
    leased_by TEXT,
    PRIMARY KEY (tenant_id, id)
);
