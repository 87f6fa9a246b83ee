-- One reflection per clip, written by the clip's owner. While a clip has
-- reflect-first on, others' feedback stays hidden from the owner until
-- status is 'submitted'.
CREATE TABLE reflections (
	clip_id TEXT PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
	author_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	went_well TEXT NOT NULL DEFAULT '',
	to_change TEXT NOT NULL DEFAULT '',
	evidence TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
	submitted_at BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE goals (
	id TEXT PRIMARY KEY,
	owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	title TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL CHECK (status IN ('active', 'achieved', 'dropped')),
	-- JSON array of {"rubric_id","criterion"}
	criteria TEXT NOT NULL DEFAULT '[]',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX goals_owner ON goals (owner_id, created_at);
CREATE TABLE goal_evidence (
	id TEXT PRIMARY KEY,
	goal_id TEXT NOT NULL REFERENCES goals(id) ON DELETE CASCADE,
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	annotation_id TEXT REFERENCES annotations(id) ON DELETE CASCADE,
	note TEXT NOT NULL DEFAULT '',
	added_by TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX goal_evidence_goal ON goal_evidence (goal_id, created_at);
CREATE INDEX goal_evidence_clip ON goal_evidence (clip_id);
