-- Portcullis schema, SQLite dialect. migrations/postgres/0001_init.sql is the same schema in
-- Postgres types; a test checks the two lists of migrations match.
-- Times are Unix seconds. Codes, tokens and secrets are stored only as SHA-256 hex digests.

CREATE TABLE clients (
    client_id                  TEXT PRIMARY KEY,
    client_name                TEXT NOT NULL,
    profile                    TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    metadata                   TEXT NOT NULL,           -- JSON: RFC 7591 metadata + extensions
    created_at                 INTEGER NOT NULL,
    updated_at                 INTEGER NOT NULL
);

CREATE TABLE client_secrets (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER                                 -- set when a rotation retires it
);
CREATE INDEX client_secrets_client ON client_secrets(client_id);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    alg           TEXT NOT NULL,
    private_key   BLOB NOT NULL,                        -- nonce || AES-256-GCM(PKCS#8)
    public_jwk    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    valid_from    INTEGER NOT NULL,
    publish_until INTEGER
);

CREATE TABLE resources (
    id                    TEXT PRIMARY KEY,
    identifier            TEXT NOT NULL UNIQUE,         -- the token audience
    name                  TEXT NOT NULL,
    scopes                TEXT NOT NULL,                -- JSON array of {name, description}
    access_token_lifetime INTEGER,
    access_token_format   TEXT NOT NULL,                -- jwt | opaque
    signing_alg           TEXT,
    client_id             TEXT REFERENCES clients(client_id) ON DELETE SET NULL,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);

CREATE TABLE audit_events (
    id     TEXT PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL                                -- JSON, never secrets
);
CREATE INDEX audit_events_at ON audit_events(at);

-- Opaque (reference) access tokens; JWT access tokens are not stored.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    jti        TEXT NOT NULL,
    grant_id   TEXT,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,                           -- JSON array
    claims     TEXT NOT NULL,                           -- JSON object of further claims
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX access_tokens_grant ON access_tokens(grant_id);
CREATE INDEX access_tokens_expires ON access_tokens(expires_at);

-- Deny-list: 'jti:<jti>' for one token, 'grant:<grant_id>' for all tokens of a grant.
CREATE TABLE revocations (
    revoked_key TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    grant_id    TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    audience    TEXT NOT NULL,
    claims      TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    consumed_at INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

-- Replay cache for client assertions, JWT bearer assertions and SAML assertion IDs.
CREATE TABLE used_jtis (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,                     -- the stable opaque `sub`
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT,                                 -- argon2id PHC string
    claims        TEXT NOT NULL,                        -- JSON of standard claims
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE authorization_codes (
    code_hash             TEXT PRIMARY KEY,
    grant_id              TEXT NOT NULL,
    client_id             TEXT NOT NULL,
    user_id               TEXT NOT NULL,
    redirect_uri          TEXT NOT NULL,
    scope                 TEXT NOT NULL,
    audience              TEXT NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    auth_time             INTEGER NOT NULL,
    issued_at             INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    consumed_at           INTEGER
);

CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code_hash   TEXT NOT NULL UNIQUE,
    grant_id         TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    audience         TEXT NOT NULL,
    status           TEXT NOT NULL,                     -- pending | approved | denied
    user_id          TEXT,
    poll_interval    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    issued_at        INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    consumed_at      INTEGER
);

-- Trusted issuers of JWT (RFC 7523) and SAML (RFC 7522) bearer assertions.
CREATE TABLE assertion_issuers (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,                           -- jwt | saml
    issuer     TEXT NOT NULL,
    config     TEXT NOT NULL,                           -- JSON
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (kind, issuer)
);
