-- Sign-in links a customer asked for by e-mail on a tenant's portal page (Portal/PortalSignIn.cs), mailed by a leased
-- worker. Every request leaves one row, whether the address belongs to a customer or not (customer_id NULL: nothing is
-- sent), so the page answers the same for both and in the same time.
CREATE TABLE portal_sign_in_mails (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    customer_id TEXT,
    base_url TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    leased_until BIGINT,
    leased_by TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ix_portal_sign_in_mails_due ON portal_sign_in_mails (status, created_at);
CREATE INDEX ix_portal_sign_in_mails_email ON portal_sign_in_mails (tenant_id, email, created_at);
