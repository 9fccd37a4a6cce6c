-- Spend attribution: a debit may carry up to five dimensions (member, project, api_key…), kept on its entry as JSON;
-- a wallet may cap what each dimension value spends a day or a month (a JSON list, null: no caps).
ALTER TABLE wallet_transactions ADD COLUMN dimensions TEXT;
ALTER TABLE wallets ADD COLUMN spend_caps TEXT;
-- What each dimension value spent per UTC day: added to by every debit that carries the dimension, in its transaction,
-- so that a cap's decision and the usage report read a few rows rather than every debit of the period.
CREATE TABLE spend_by_dimension (
    tenant_id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value TEXT NOT NULL,
    day BIGINT NOT NULL,
    credits {decimal} NOT NULL,
    amount {decimal} NOT NULL,
    debits BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, wallet_id, dimension, value, day)
);
