-- clip_events is the durable, gap-free log of every room event of a clip
-- (annotation changes, sync-session commands). The database is the
-- sequencer: seq is allocated from clip_seq in the same transaction as the
-- change, so every node sees one order and a reconnecting client can
-- replay from any seq.
CREATE TABLE clip_seq (
	clip_id TEXT PRIMARY KEY REFERENCES clips(id) ON DELETE CASCADE,
	seq BIGINT NOT NULL
);
CREATE TABLE clip_events (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	seq BIGINT NOT NULL,
	type TEXT NOT NULL,
	actor_id TEXT NOT NULL DEFAULT '',
	-- who may receive it: '' for everyone in the room, else one user (private notes)
	only_user_id TEXT NOT NULL DEFAULT '',
	data TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (clip_id, seq)
);
