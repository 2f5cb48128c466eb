-- Sign-in throttling (issue 4): failed sign-ins counted per account and per IP, shared by
-- every node. migrations/postgres/0002_sign_in_throttle.sql is the same table in Postgres types.

CREATE TABLE sign_in_throttle (
    throttle_key    TEXT PRIMARY KEY,                   -- account:<username> | ip:<address or /64>
    failures        INTEGER NOT NULL,                   -- since the counter last started
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL                    -- 0 when not blocked
);
CREATE INDEX sign_in_throttle_last_failure ON sign_in_throttle(last_failure_at);
