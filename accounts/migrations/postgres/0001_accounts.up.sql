CREATE TABLE users (
	id TEXT PRIMARY KEY,
	email TEXT NOT NULL UNIQUE,           -- stored lower-cased
	name TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	admin BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE sessions (
	token_hash TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf_token TEXT NOT NULL,
	user_agent TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	token_hash TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
CREATE TABLE groups (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	reflect_first BOOLEAN NOT NULL DEFAULT FALSE,
	created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	archived_at BIGINT
);
CREATE TABLE group_members (
	group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	role TEXT NOT NULL CHECK (role IN ('teacher', 'coach', 'peer', 'facilitator')),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);
CREATE TABLE invitations (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	role TEXT NOT NULL CHECK (role IN ('teacher', 'coach', 'peer', 'facilitator')),
	email TEXT,
	created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	accepted_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	accepted_at BIGINT
);
CREATE INDEX invitations_group ON invitations (group_id);
