-- The site's privacy policy: one row (id 1), absent until an admin first
-- saves it (the defaults in policy.Default apply meanwhile).
CREATE TABLE privacy_policy (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	-- clips that may show students without consent on file are seen only by
	-- their owner and the coaches of their groups
	require_consent BOOLEAN NOT NULL DEFAULT FALSE,
	-- downloads of MP4s and originals, site-wide (each clip has its own switch too)
	downloads_allowed BOOLEAN NOT NULL DEFAULT FALSE,
	-- off, days (retention_days after upload) or date (the next retention_date, MM-DD)
	retention_mode TEXT NOT NULL DEFAULT 'off' CHECK (retention_mode IN ('off', 'days', 'date')),
	retention_days INTEGER NOT NULL DEFAULT 0,
	retention_date TEXT NOT NULL DEFAULT '',
	warn_days INTEGER NOT NULL DEFAULT 14,
	allow_keep BOOLEAN NOT NULL DEFAULT FALSE,
	max_keep_days INTEGER NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL DEFAULT 0,
	updated_by TEXT NOT NULL DEFAULT ''
);
