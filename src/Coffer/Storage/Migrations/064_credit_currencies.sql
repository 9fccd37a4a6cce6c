-- A tenant's units of credit (CreditCurrencies/CreditCurrencies.cs): "unit" (tokens, API credits: price_per_credit in
-- the ISO currency it is invoiced in) or "fiat" (one credit is one minor unit of that currency). A wallet holds one.
CREATE TABLE credit_currencies (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    denomination TEXT NOT NULL,
    currency TEXT NOT NULL,
    price_per_credit {decimal} NOT NULL,
    precision INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

ALTER TABLE wallets ADD COLUMN credit_currency_id TEXT;
-- At most one open wallet per customer and credit currency, decided by the database. Wallets of credit currencies
-- priced in one ISO currency (tokens and API credits, both in USD) may sit side by side, so the older rule of one open
-- wallet per customer, currency and type now holds for the wallets that have no credit currency.
CREATE UNIQUE INDEX ux_wallets_credit_currency ON wallets (tenant_id, customer_id, credit_currency_id)
    WHERE credit_currency_id IS NOT NULL AND wallet_status <> 'closed';
DROP INDEX ux_wallets_open;
CREATE UNIQUE INDEX ux_wallets_open ON wallets (tenant_id, customer_id, currency, wallet_type)
    WHERE wallet_status <> 'closed' AND credit_currency_id IS NULL;
