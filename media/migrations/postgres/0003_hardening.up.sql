-- People a clip is shared with by email. The sharer sees the email as they
-- typed it, whether or not it has an account, so sharing never reveals who
-- is registered; user_id is the account the email named when the audience
-- was saved (NULL: none), and only that grants access.
CREATE TABLE clip_audience_emails (
	clip_id TEXT NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
	email TEXT NOT NULL,
	user_id TEXT REFERENCES users(id) ON DELETE SET NULL,
	PRIMARY KEY (clip_id, email)
);
CREATE INDEX clip_audience_emails_user ON clip_audience_emails (user_id);
-- Secrets generated once and shared by every node (the media URL signing
-- key when no --secret is configured).
CREATE TABLE media_secrets (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
