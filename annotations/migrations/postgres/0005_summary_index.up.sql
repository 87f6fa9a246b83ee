-- The clip/time index now covers every column that the list filters and
-- the per-clip summary read, so a summary of a clip with 10,000
-- annotations is an index-only scan (on SQLite: "USING COVERING INDEX").
DROP INDEX annotations_clip_start;
CREATE INDEX annotations_clip_start ON annotations (clip_id, start_ms, id, end_ms, deleted_at, visibility, author_id,
	kind, criterion_key, rubric_id, rubric_version, level_key, level_score);
-- The longest range ever stored per clip (it never shrinks, so it stays an
-- upper bound): a time-window query for [from, to] then walks the index
-- from start_ms = from - max_span_ms instead of from the clip's start.
CREATE TABLE annotation_clip_spans (
	clip_id TEXT PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
	max_span_ms BIGINT NOT NULL
);
INSERT INTO annotation_clip_spans (clip_id, max_span_ms)
	SELECT clip_id, MAX(end_ms - start_ms) FROM annotations WHERE end_ms IS NOT NULL GROUP BY clip_id;
