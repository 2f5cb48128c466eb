-- Legacy flows (issue 7): each use of the implicit flow or the password grant is counted per
-- client, flow and UTC day, so operators can see whom to migrate. One upsert per use.
-- migrations/postgres/0008_legacy_usage.sql is the same table in Postgres types.

CREATE TABLE legacy_usage (
    client_id    TEXT NOT NULL,
    flow         TEXT NOT NULL,                  -- implicit | password
    day          INTEGER NOT NULL,               -- Unix seconds / 86400 (UTC day number)
    uses         INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, flow, day)
);
CREATE INDEX legacy_usage_day ON legacy_usage(day);
