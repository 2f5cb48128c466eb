-- Authorization requests between the sign-in and consent pages (RFC 6749 §4.1.1): validated
-- once, kept server-side for a few minutes, found by the SHA-256 of a random id the pages
-- carry in a hidden field. No process memory, so any node can resume any request.
CREATE TABLE authorization_requests (
    id_hash    TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    request    TEXT NOT NULL,                           -- JSON of the validated request
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX authorization_requests_expires ON authorization_requests(expires_at);
