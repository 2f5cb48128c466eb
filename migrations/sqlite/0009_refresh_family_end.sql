-- Refresh-token idle and absolute lifetimes (RFC 9700 §4.14.2). A refresh token's expires_at
-- is now its idle end; family_expires_at is the absolute end of its family (the grant's first
-- refresh token + tokens.refresh_token_lifetime), carried unchanged through every rotation so
-- that rotation never extends the family. A consumed row's expires_at is moved to the family's
-- end, so a replay is recognised (and revokes the family) for as long as the family can live.
-- migrations/postgres/0009_refresh_family_end.sql is the same change in Postgres types.

ALTER TABLE refresh_tokens ADD COLUMN family_expires_at INTEGER NOT NULL DEFAULT 0;
-- Tokens issued before this migration: their own expiry is the end of their family.
UPDATE refresh_tokens SET family_expires_at = expires_at;
