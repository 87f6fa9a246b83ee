-- Sessions get a public id (listed and revoked by it; the secret stays only
-- as its hash), when and from where they were last used. Existing sessions
-- get a random id.
ALTER TABLE sessions ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE sessions SET id = md5(random()::text || clock_timestamp()::text || token_hash);
CREATE UNIQUE INDEX sessions_id ON sessions (id);
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
-- API tokens get a scope and an expiry. Tokens made before scopes could do
-- everything; they keep that, but now expire 90 days after this migration.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full' CHECK (scope IN ('read', 'upload', 'full'));
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0;
UPDATE api_tokens SET expires_at = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT + 90::BIGINT * 86400000;
