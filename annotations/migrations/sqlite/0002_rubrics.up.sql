-- A rubric is owned by a group (group_id) or the site (group_id NULL). Its
-- content lives in immutable versions; editing adds a version and moves
-- current_version. Starter rubrics carry a slug so seeding is idempotent.
CREATE TABLE rubrics (
	id TEXT PRIMARY KEY,
	slug TEXT UNIQUE,
	group_id TEXT REFERENCES groups(id) ON DELETE CASCADE,
	current_version INTEGER NOT NULL,
	created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	archived_at BIGINT
);
CREATE INDEX rubrics_group ON rubrics (group_id);
-- content is the version's JSON (title, description, domains → criteria →
-- levels); a rubric is small and always read whole.
CREATE TABLE rubric_versions (
	rubric_id TEXT NOT NULL REFERENCES rubrics(id) ON DELETE CASCADE,
	version INTEGER NOT NULL,
	title TEXT NOT NULL,
	content TEXT NOT NULL,
	created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (rubric_id, version)
);
