ALTER TABLE clips ADD COLUMN consent_json TEXT NOT NULL DEFAULT '{}';
ALTER TABLE clips DROP COLUMN delete_warned_at;
ALTER TABLE clips DROP COLUMN delete_on;
ALTER TABLE clips DROP COLUMN keep_until;
ALTER TABLE clips DROP COLUMN downloads_allowed;
ALTER TABLE clips DROP COLUMN consent_at;
ALTER TABLE clips DROP COLUMN consent_note;
ALTER TABLE clips DROP COLUMN consent_on_file;
ALTER TABLE clips DROP COLUMN students_visible;
