-- Analytics (Analytics/WalletAnalytics.cs) counts purchases by the day their invoice was paid and measures time to
-- payment over invoices paid in a range: both read a tenant's invoices by paid_at.
CREATE INDEX ix_invoices_paid ON invoices (tenant_id, paid_at) WHERE paid_at IS NOT NULL;
