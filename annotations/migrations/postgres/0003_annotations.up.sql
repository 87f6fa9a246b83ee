-- Annotations pin the rubric version they were coded with; criterion title,
-- level label and score are copied from that immutable version so that
-- summaries never need to re-read old versions.
CREATE TABLE annotations (
	id TEXT PRIMARY KEY,
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	author_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	start_ms BIGINT NOT NULL,
	end_ms BIGINT,
	region_x DOUBLE PRECISION,
	region_y DOUBLE PRECISION,
	region_w DOUBLE PRECISION,
	region_h DOUBLE PRECISION,
	body TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('strength', 'suggestion', 'question', 'note')),
	visibility TEXT NOT NULL CHECK (visibility IN ('private', 'audience')),
	tags TEXT NOT NULL DEFAULT '[]',
	rubric_id TEXT REFERENCES rubrics(id) ON DELETE SET NULL,
	rubric_version INTEGER,
	criterion_key TEXT,
	criterion_title TEXT,
	level_key TEXT,
	level_label TEXT,
	level_score INTEGER,
	idempotency_key TEXT,
	revision INTEGER NOT NULL DEFAULT 1,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	deleted_at BIGINT,
	deleted_by TEXT
);
-- The time-window and page queries walk this index in (start_ms, id) order.
CREATE INDEX annotations_clip_start ON annotations (clip_id, start_ms, id);
CREATE INDEX annotations_author ON annotations (author_id, created_at);
-- A retried create with the same key returns the first annotation; NULL
-- keys are distinct on both dialects, so annotations without one never clash.
CREATE UNIQUE INDEX annotations_idempotency ON annotations (clip_id, author_id, idempotency_key);
CREATE TABLE annotation_tags (
	annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
	tag TEXT NOT NULL,
	PRIMARY KEY (annotation_id, tag)
);
CREATE INDEX annotation_tags_tag ON annotation_tags (tag);
CREATE TABLE annotation_replies (
	id TEXT PRIMARY KEY,
	annotation_id TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	in_reply_to TEXT REFERENCES annotation_replies(id) ON DELETE SET NULL,
	author_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	body TEXT NOT NULL,
	revision INTEGER NOT NULL DEFAULT 1,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	deleted_at BIGINT,
	deleted_by TEXT
);
CREATE INDEX annotation_replies_annotation ON annotation_replies (annotation_id, created_at);
-- Every edit of an annotation or reply keeps the state before it: snapshot
-- is the JSON the API returned for that revision.
CREATE TABLE annotation_revisions (
	target_id TEXT NOT NULL,
	revision INTEGER NOT NULL,
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	snapshot TEXT NOT NULL,
	edited_by TEXT NOT NULL,
	edited_at BIGINT NOT NULL,
	PRIMARY KEY (target_id, revision)
);
