CREATE TABLE clips (
	id TEXT PRIMARY KEY,
	owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	title TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	-- uploading → probing → transcoding → captioning → ready, or failed
	status TEXT NOT NULL,
	failure_code TEXT NOT NULL DEFAULT '',
	failure_reason TEXT NOT NULL DEFAULT '',
	progress DOUBLE PRECISION NOT NULL DEFAULT 0,
	upload_id TEXT UNIQUE,
	filename TEXT NOT NULL DEFAULT '',
	content_type TEXT NOT NULL DEFAULT '',
	size_bytes BIGINT NOT NULL DEFAULT 0,
	sha256 TEXT NOT NULL DEFAULT '',
	duration_ms BIGINT NOT NULL DEFAULT 0,
	width INTEGER NOT NULL DEFAULT 0,
	height INTEGER NOT NULL DEFAULT 0,
	has_video BOOLEAN NOT NULL DEFAULT FALSE,
	has_audio BOOLEAN NOT NULL DEFAULT FALSE,
	-- renditions, poster, sprite, waveform… as JSON written by the pipeline
	media_json TEXT NOT NULL DEFAULT '{}',
	caption_status TEXT NOT NULL DEFAULT '',
	rubric_id TEXT,
	reflect_first BOOLEAN NOT NULL DEFAULT FALSE,
	consent_json TEXT NOT NULL DEFAULT '{}',
	group_id TEXT REFERENCES groups(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX clips_owner ON clips (owner_id, created_at);
CREATE TABLE clip_audience_users (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (clip_id, user_id)
);
CREATE INDEX clip_audience_users_user ON clip_audience_users (user_id);
CREATE TABLE clip_audience_groups (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
	PRIMARY KEY (clip_id, group_id)
);
CREATE INDEX clip_audience_groups_group ON clip_audience_groups (group_id);
