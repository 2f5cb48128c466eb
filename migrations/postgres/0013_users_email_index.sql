-- Users by e-mail (store/users.rs find_users_by_email: JWT and SAML bearer grants map an
-- assertion subject to a user by the `email` claim): an index on exactly the expression the
-- query compares, so the lookup is an index scan, not a scan of every user's claims JSON.
-- migrations/sqlite/0013_users_email_index.sql is the same in the other dialect.
CREATE INDEX users_email ON users ((lower(claims::jsonb ->> 'email')));
