DROP TABLE annotation_clip_spans;
DROP INDEX annotations_clip_start;
CREATE INDEX annotations_clip_start ON annotations (clip_id, start_ms, id);
