-- Users by e-mail (store/users.rs find_users_by_email): an index on exactly the expression
-- the query compares (SQLite uses an expression index only for an identical expression), so
-- the lookup is an index search, not a scan of every user's claims JSON.
-- migrations/postgres/0013_users_email_index.sql is the same in the other dialect.
CREATE INDEX users_email ON users (lower(json_extract(claims, '$.email')));
