DROP TRIGGER transcript_segments_au;
DROP TRIGGER transcript_segments_ad;
DROP TRIGGER transcript_segments_ai;
DROP TABLE transcript_fts;
DROP TABLE transcript_segments;
DROP TABLE transcripts;
DROP TABLE caption_tracks;
ALTER TABLE clips DROP COLUMN caption_reason;
ALTER TABLE clips DROP COLUMN caption_progress;
