-- Rate buckets (GCRA): tat is the "theoretical arrival time" in Unix
-- milliseconds; a bucket whose tat has passed is full and may be deleted.
CREATE TABLE ratelimit_buckets (
	key TEXT PRIMARY KEY,
	tat BIGINT NOT NULL
);
CREATE INDEX ratelimit_buckets_tat ON ratelimit_buckets (tat);
-- Failure back-off: consecutive counted attempts per key, the back-off last
-- applied, and until when the key must wait.
CREATE TABLE ratelimit_backoff (
	key TEXT PRIMARY KEY,
	failures INTEGER NOT NULL,
	delay_ms BIGINT NOT NULL,
	blocked_until BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX ratelimit_backoff_updated ON ratelimit_backoff (updated_at);
