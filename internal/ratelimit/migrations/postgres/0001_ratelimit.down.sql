DROP TABLE ratelimit_backoff;
DROP TABLE ratelimit_buckets;
