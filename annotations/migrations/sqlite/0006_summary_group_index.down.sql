DROP INDEX annotations_clip_summary;
