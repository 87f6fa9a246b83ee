ALTER TABLE clips DROP COLUMN ladder_progress;
ALTER TABLE clips DROP COLUMN ladder_state;
ALTER TABLE clips DROP COLUMN start_path;
