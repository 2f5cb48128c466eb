-- Housekeeping (issue 9, src/tasks.rs): every table it purges can find its expired rows by
-- index, so a batch reads only what it deletes. migrations/sqlite/0010_expiry_indexes.sql is
-- the same in the other dialect. (access_tokens, authorization_requests, device_codes and
-- sign_in_throttle had theirs already.)
CREATE INDEX authorization_codes_expires ON authorization_codes(expires_at);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);
CREATE INDEX revocations_expires ON revocations(expires_at);
CREATE INDEX used_jtis_expires ON used_jtis(expires_at);
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX sessions_last_seen ON sessions(last_seen_at);
CREATE INDEX session_clients_expires ON session_clients(expires_at);
