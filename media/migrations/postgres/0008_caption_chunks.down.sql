DROP TABLE caption_chunks;
ALTER TABLE clips DROP COLUMN caption_run;
