-- Dashboard operators (email and a PBKDF2 password hash), and server keys shared by every node (portal
-- links are signed with one, so a link made on one node opens on another).

CREATE TABLE operators (
    tenant_id TEXT NOT NULL,
    id TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX ux_operators_email ON operators (email);

CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    key_value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- ASP.NET Core data-protection keys (they encrypt session cookies and antiforgery tokens), shared by every node.
CREATE TABLE data_protection_keys (
    friendly_name TEXT PRIMARY KEY,
    xml TEXT NOT NULL
);
