-- In the order of the summary's GROUP BY, so the database streams the
-- groups instead of sorting every annotation of the clip (on SQLite this
-- took a 10,000-annotation summary from ~57 ms to ~8 ms).
CREATE INDEX annotations_clip_summary ON annotations (clip_id, kind, criterion_key, rubric_id, rubric_version, level_key, level_score,
	deleted_at, visibility, author_id);
