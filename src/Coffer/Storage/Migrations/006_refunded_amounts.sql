-- What has been given back of an invoice's payments.
ALTER TABLE invoices ADD COLUMN refunded_amount {decimal} NOT NULL DEFAULT 0;
