-- Device authorization grant (RFC 8628). 0001 sketched `device_codes`; nothing ever wrote to it,
-- so it is replaced by the table the flow needs: the user's auth_time (for ID tokens), the
-- polling state (`poll_interval`, `last_polled_at`, `slow_down`) that every node updates in one
-- statement, and a cascade when the client goes. migrations/sqlite/0005_device_codes.sql is
-- the same table in SQLite types.
DROP TABLE device_codes;
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,                   -- SHA-256 of the device_code
    user_code_hash   TEXT NOT NULL UNIQUE,               -- SHA-256 of the normalised user code
    grant_id         TEXT NOT NULL,
    client_id        TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    audience         TEXT NOT NULL,                      -- JSON array of resource identifiers
    status           TEXT NOT NULL,                      -- pending | approved | denied
    user_id          TEXT,                               -- who approved or denied
    auth_time        BIGINT,                            -- when that user signed in
    poll_interval    BIGINT NOT NULL,                   -- seconds; grows 5 per slow_down
    last_polled_at   BIGINT,
    slow_down        BIGINT NOT NULL DEFAULT 0,         -- 1: the last poll came too early
    issued_at        BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    consumed_at      BIGINT                             -- tokens issued (once)
);
CREATE INDEX device_codes_expires ON device_codes(expires_at);
