-- A clip's redaction: plan_json is the draft its owner edits (media/redact
-- Plan), applied_json the plans burned into the master so far, status
-- '' / queued / running / failed for the job that burns a plan in, with
-- its progress (0–100) and failure. original_until is when the kept
-- unredacted original is purged (Unix ms; 0: none kept).
CREATE TABLE clip_redactions (
	clip_id TEXT PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
	plan_json TEXT NOT NULL DEFAULT '{"boxes":[],"mutes":[]}',
	applied_json TEXT NOT NULL DEFAULT '[]',
	status TEXT NOT NULL DEFAULT '',
	progress REAL NOT NULL DEFAULT 0,
	failure TEXT NOT NULL DEFAULT '',
	original_until BIGINT NOT NULL DEFAULT 0,
	applied_at BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);
CREATE INDEX clip_redactions_original ON clip_redactions (original_until) WHERE original_until > 0;
