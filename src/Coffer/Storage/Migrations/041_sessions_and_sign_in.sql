-- Sign-in failures and lockout live on the operator row, so a lockout holds on every node. The session stamp is
-- copied into each dashboard cookie and checked on every request: signing out changes it, so a copied cookie
-- stops working everywhere.
ALTER TABLE operators ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN locked_until BIGINT;
ALTER TABLE operators ADD COLUMN session_stamp TEXT NOT NULL DEFAULT '';

-- One row per portal link opened: its nonce is the primary key, so a link opens once on any node; the row is the
-- customer's session (ended by signing out) until the link's own expiry, after which it is pruned.
CREATE TABLE portal_sessions (
    nonce TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    signed_out_at BIGINT
);
CREATE INDEX ix_portal_sessions_expires ON portal_sessions (expires_at);
