-- Captions in parallel: a clip's audio is cut at pauses into chunks that any
-- worker captions on its own. caption_run names the clip's current run, so a
-- late job of an earlier run changes nothing; caption_chunks keeps each
-- chunk's state and words, so a worker that dies loses only its own chunk
-- and the finished ones are kept. Rows go when the run is complete.
ALTER TABLE clips ADD COLUMN caption_run TEXT NOT NULL DEFAULT '';
CREATE TABLE caption_chunks (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	run TEXT NOT NULL,
	idx INTEGER NOT NULL,
	lang TEXT NOT NULL,
	offset_ms BIGINT NOT NULL,
	dur_ms BIGINT NOT NULL,
	state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	words_json TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (clip_id, run, idx)
);
