-- OpenID Connect Back-Channel Logout 1.0 and cutting off a disabled or deleted user (issue 4).
-- migrations/sqlite/0004_backchannel_logout.sql is the same schema in the other dialect.

-- The browser session (its public `sid`, OIDC Back-Channel Logout §2.1) a code was issued in,
-- so the ID token carries it; and the `acr` the sign-in satisfied.
ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE authorization_codes ADD COLUMN acr TEXT;

-- Which clients were issued tokens within which browser session: when the session ends, each
-- client that registered a backchannel_logout_uri gets a Logout Token. In the store, so the
-- node that ends a session knows what every other node issued.
CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients(client_id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,                            -- the session's absolute end
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_user ON session_clients(user_id);

-- Finding everything a user holds when they are disabled or deleted.
CREATE INDEX authorization_codes_user ON authorization_codes(user_id);
CREATE INDEX refresh_tokens_subject ON refresh_tokens(subject);
CREATE INDEX access_tokens_subject ON access_tokens(subject);
