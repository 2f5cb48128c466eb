-- Legacy flows (issue 7): each use of the implicit flow or the password grant is counted per
-- client, flow and UTC day, so operators can see whom to migrate. One upsert per use.
-- migrations/sqlite/0008_legacy_usage.sql is the same table in SQLite types.

CREATE TABLE legacy_usage (
    client_id    TEXT NOT NULL,
    flow         TEXT NOT NULL,                  -- implicit | password
    day          BIGINT NOT NULL,                -- Unix seconds / 86400 (UTC day number)
    uses         BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, flow, day)
);
CREATE INDEX legacy_usage_day ON legacy_usage(day);
