-- Allocations are read by their debit (a statement, a refund) and, through the debit entries, by wallet (verify, the balance
-- at an instant), so the index on (tenant_id, wallet_id) goes: every debit wrote one more index row for it.
DROP INDEX ix_allocations_wallet;
-- begin sqlite only
-- On SQLite the table is rebuilt WITHOUT ROWID: its rows are kept in the order of their primary key instead of a rowid with
-- a second tree for the key. Debit ids grow with time, so a new allocation still goes at the end of the one tree. Together
-- about 180 of a debit's 2,100 bytes and two of its thirteen tree insertions.
CREATE TABLE allocations_v2 (
    tenant_id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    debit_id TEXT NOT NULL,
    lot_id TEXT NOT NULL,
    credits TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, debit_id, lot_id)
) WITHOUT ROWID;
INSERT INTO allocations_v2 (tenant_id, wallet_id, debit_id, lot_id, credits, created_at)
    SELECT tenant_id, wallet_id, debit_id, lot_id, credits, created_at FROM allocations;
DROP TABLE allocations;
ALTER TABLE allocations_v2 RENAME TO allocations;
-- end sqlite only
