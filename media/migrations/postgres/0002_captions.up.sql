-- Captions and transcripts. The clip keeps its caption job state next to
-- caption_status ('' / pending / running / ready / none / failed).
ALTER TABLE clips ADD COLUMN caption_progress DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN caption_reason TEXT NOT NULL DEFAULT '';
-- One row per clip and language. Both versions are kept: 'machine' (made by
-- the speech engine) and 'edited' (uploaded or edited by the owner); current
-- says which one players get. The VTT bytes are objects under
-- clips/<id>/media/captions/.
CREATE TABLE caption_tracks (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	lang TEXT NOT NULL,
	label TEXT NOT NULL,
	current TEXT NOT NULL CHECK (current IN ('machine', 'edited')),
	has_machine BOOLEAN NOT NULL DEFAULT FALSE,
	has_edited BOOLEAN NOT NULL DEFAULT FALSE,
	machine_engine TEXT NOT NULL DEFAULT '',
	machine_cues INTEGER NOT NULL DEFAULT 0,
	edited_cues INTEGER NOT NULL DEFAULT 0,
	edited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (clip_id, lang)
);
-- The word-level transcript of each version, as captions.Transcript JSON.
CREATE TABLE transcripts (
	clip_id TEXT NOT NULL,
	lang TEXT NOT NULL,
	version TEXT NOT NULL CHECK (version IN ('machine', 'edited')),
	engine TEXT NOT NULL DEFAULT '',
	word_count INTEGER NOT NULL DEFAULT 0,
	words_json TEXT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (clip_id, lang, version),
	FOREIGN KEY (clip_id, lang) REFERENCES caption_tracks(clip_id, lang) ON DELETE CASCADE
);
-- The search index: the current version's words in short stretches, with
-- their times. folded is the text lowercased without accents or punctuation
-- (what queries match); words_json places a hit on its word.
-- PostgreSQL: a generated tsvector with the 'simple' configuration (no
-- stemming, so both dialects match the same words) under a GIN index.
CREATE TABLE transcript_segments (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	clip_id TEXT NOT NULL,
	lang TEXT NOT NULL,
	start_ms BIGINT NOT NULL,
	end_ms BIGINT NOT NULL,
	text TEXT NOT NULL,
	folded TEXT NOT NULL,
	words_json TEXT NOT NULL,
	tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, folded)) STORED,
	FOREIGN KEY (clip_id, lang) REFERENCES caption_tracks(clip_id, lang) ON DELETE CASCADE
);
CREATE INDEX transcript_segments_clip ON transcript_segments (clip_id, lang, start_ms);
-- fastupdate off: a clip's rows are written once, and a GIN pending list
-- would make the planner shun the index until the next vacuum.
CREATE INDEX transcript_segments_tsv ON transcript_segments USING GIN (tsv) WITH (fastupdate = off);
