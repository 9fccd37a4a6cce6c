-- Credit packages: named bundles of credits for a price, with optional bonus credits that expire.

CREATE TABLE credit_packages (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    credits {decimal} NOT NULL,
    price {decimal} NOT NULL,
    currency TEXT NOT NULL,
    bonus_credits {decimal} NOT NULL,
    bonus_expiry_days INTEGER,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- A package's bonus is a second pending credit that the invoice's payment completes with the first.
ALTER TABLE invoices ADD COLUMN bonus_transaction_id TEXT;
