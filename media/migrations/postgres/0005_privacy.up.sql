-- Per-clip consent and sensitivity, the owner's download switch and the
-- retention bookkeeping replace the never-used consent_json. students_visible
-- is yes, no or unknown (the default: nobody said yes or no); consent_at is
-- when the owner last recorded it (Unix ms, 0: never). keep_until is the
-- owner's extension under the retention policy (Unix ms, 0: none);
-- delete_on is the deletion date the owner was warned of (0: not warned)
-- and delete_warned_at when.
ALTER TABLE clips ADD COLUMN students_visible TEXT NOT NULL DEFAULT 'unknown' CHECK (students_visible IN ('yes', 'no', 'unknown'));
ALTER TABLE clips ADD COLUMN consent_on_file BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clips ADD COLUMN consent_note TEXT NOT NULL DEFAULT '';
ALTER TABLE clips ADD COLUMN consent_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN downloads_allowed BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clips ADD COLUMN keep_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN delete_on BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips ADD COLUMN delete_warned_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clips DROP COLUMN consent_json;
