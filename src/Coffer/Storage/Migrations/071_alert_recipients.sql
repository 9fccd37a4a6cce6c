-- Who an alert was mailed to (a JSON array of addresses), now that each wallet chooses its channels: the merchant's
-- addresses, the customer's, or nobody.
ALTER TABLE alerts ADD COLUMN email_recipients TEXT;
