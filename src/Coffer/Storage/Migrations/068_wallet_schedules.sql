-- Recurring grants and charges on a wallet (Schedules/). next_run_at is the start of the next period to run and
-- run_count its index: periods are counted from start_at, so the n-th period starts at start_at + n intervals
-- (SchedulePeriods) and never drifts. The row is leased by the schedule worker like every other queue.
CREATE TABLE wallet_schedules (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    type TEXT NOT NULL,
    credits {decimal},
    amount {decimal},
    expire_at_period_end INTEGER NOT NULL DEFAULT 0,
    priority INTEGER,
    transaction_reason TEXT NOT NULL,
    interval_unit TEXT NOT NULL,
    interval_count INTEGER NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT,
    description TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    run_count INTEGER NOT NULL DEFAULT 0,
    next_run_at BIGINT,
    last_run_at BIGINT,
    cancelled_at BIGINT,
    leased_until BIGINT,
    leased_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_wallet_schedules_wallet ON wallet_schedules (tenant_id, wallet_id, created_at);
CREATE INDEX ix_wallet_schedules_due ON wallet_schedules (status, next_run_at);

-- One row per schedule and period, written in the transaction that posts the period's ledger entry (or records why
-- none was posted): the primary key is what makes a period run at most once, whatever node or retry runs it.
CREATE TABLE wallet_schedule_runs (
    tenant_id TEXT NOT NULL,
    schedule_id TEXT NOT NULL,
    period_index INTEGER NOT NULL,
    wallet_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    status TEXT NOT NULL,
    credits {decimal},
    transaction_id TEXT,
    reason TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, schedule_id, period_index)
);
