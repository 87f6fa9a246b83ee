CREATE TABLE audit_events (
	-- increasing, the tie-break of the newest-first order
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at BIGINT NOT NULL,
	-- empty for a failed sign-in of an unknown email and for system jobs
	actor_id TEXT NOT NULL DEFAULT '',
	-- the actor's name when the event happened (people rename and leave)
	actor_name TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	-- no foreign keys: the log outlives the clips and people it names
	clip_id TEXT NOT NULL DEFAULT '',
	clip_owner_id TEXT NOT NULL DEFAULT '',
	clip_title TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT ''
);
-- the owner's log (GET /me/audit), the clip's (GET /clips/{id}/audit),
-- the admin's by person, and the whole site's newest first and Purge
CREATE INDEX audit_events_owner ON audit_events (clip_owner_id, at, id);
CREATE INDEX audit_events_clip ON audit_events (clip_id, at, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, at, id);
CREATE INDEX audit_events_at ON audit_events (at, id);
