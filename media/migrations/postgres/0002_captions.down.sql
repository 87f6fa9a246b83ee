DROP TABLE transcript_segments;
DROP TABLE transcripts;
DROP TABLE caption_tracks;
ALTER TABLE clips DROP COLUMN caption_reason;
ALTER TABLE clips DROP COLUMN caption_progress;
