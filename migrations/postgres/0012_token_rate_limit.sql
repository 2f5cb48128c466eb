-- The token endpoint's per-client rate limit (issue 9, src/rate_limit.rs): one row per client
-- and one-minute window; each node adds the requests it admitted to the row about once a
-- second and reads the fleet's total back. Purged once the window is over.
-- migrations/sqlite/0012_token_rate_limit.sql is the same in the other dialect.
CREATE TABLE token_rate_limit (
    client_id    TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    requests     BIGINT NOT NULL,
    PRIMARY KEY (client_id, window_start)
);
CREATE INDEX token_rate_limit_window ON token_rate_limit(window_start);
