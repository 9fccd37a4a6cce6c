-- Enough invoicing for the wallet's flows: invoices (credit purchases and one-off invoices), their lines,
-- and payments against them. Amounts are currency amounts at the currency's minor unit.

ALTER TABLE tenants ADD COLUMN invoice_seq BIGINT NOT NULL DEFAULT 0;

CREATE TABLE invoices (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    invoice_type TEXT NOT NULL,
    invoice_status TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_due {decimal} NOT NULL,
    amount_paid {decimal} NOT NULL,
    subtotal {decimal} NOT NULL,
    total {decimal} NOT NULL,
    description TEXT,
    due_date BIGINT,
    paid_at BIGINT,
    voided_at BIGINT,
    finalized_at BIGINT,
    period_start BIGINT,
    period_end BIGINT,
    billing_period TEXT,
    billing_reason TEXT,
    invoice_number TEXT,
    idempotency_key TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    -- A credit purchase: the wallet and its pending credit that this invoice's payment completes.
    wallet_id TEXT,
    wallet_transaction_id TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_invoices_idempotency ON invoices (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX ix_invoices_customer ON invoices (tenant_id, customer_id, created_at);
CREATE INDEX ix_invoices_created ON invoices (tenant_id, created_at);
CREATE INDEX ix_invoices_unpaid_purchases ON invoices (created_at)
    WHERE wallet_transaction_id IS NOT NULL AND invoice_status = 'FINALIZED' AND payment_status IN ('INITIATED', 'PENDING', 'PROCESSING');

CREATE TABLE invoice_line_items (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    display_name TEXT,
    price_type TEXT,
    amount {decimal} NOT NULL,
    quantity {decimal} NOT NULL,
    period_start BIGINT,
    period_end BIGINT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_line_items_invoice ON invoice_line_items (tenant_id, invoice_id);

CREATE TABLE payments (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    idempotency_key TEXT,
    destination_type TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    payment_method_type TEXT NOT NULL,
    payment_method_id TEXT,
    payment_gateway TEXT,
    gateway_payment_id TEXT,
    amount {decimal} NOT NULL,
    currency TEXT NOT NULL,
    payment_status TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    succeeded_at BIGINT,
    failed_at BIGINT,
    refunded_at BIGINT,
    error_message TEXT,
    wallet_transaction_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_payments_idempotency ON payments (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX ix_payments_destination ON payments (tenant_id, destination_id);
CREATE INDEX ix_payments_created ON payments (tenant_id, created_at);
