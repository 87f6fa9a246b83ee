-- Captions and transcripts. The clip keeps its caption job state next to
-- caption_status ('' / pending / running / ready / none / failed).
ALTER TABLE clips ADD COLUMN caption_progress REAL NOT NULL DEFAULT 0;
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
CREATE TABLE transcript_segments (
	id INTEGER PRIMARY KEY,
	clip_id TEXT NOT NULL,
	lang TEXT NOT NULL,
	start_ms BIGINT NOT NULL,
	end_ms BIGINT NOT NULL,
	text TEXT NOT NULL,
	folded TEXT NOT NULL,
	words_json TEXT NOT NULL,
	FOREIGN KEY (clip_id, lang) REFERENCES caption_tracks(clip_id, lang) ON DELETE CASCADE
);
CREATE INDEX transcript_segments_clip ON transcript_segments (clip_id, lang, start_ms);
-- SQLite: an external-content FTS5 index over folded, kept in step by
-- triggers (they also run for rows removed by the cascades above).
CREATE VIRTUAL TABLE transcript_fts USING fts5(folded, content='transcript_segments', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
-- +begin
CREATE TRIGGER transcript_segments_ai AFTER INSERT ON transcript_segments BEGIN
	INSERT INTO transcript_fts(rowid, folded) VALUES (new.id, new.folded);
END;
-- +end
-- +begin
CREATE TRIGGER transcript_segments_ad AFTER DELETE ON transcript_segments BEGIN
	INSERT INTO transcript_fts(transcript_fts, rowid, folded) VALUES ('delete', old.id, old.folded);
END;
-- +end
-- +begin
CREATE TRIGGER transcript_segments_au AFTER UPDATE ON transcript_segments BEGIN
	INSERT INTO transcript_fts(transcript_fts, rowid, folded) VALUES ('delete', old.id, old.folded);
	INSERT INTO transcript_fts(rowid, folded) VALUES (new.id, new.folded);
END;
-- +end
