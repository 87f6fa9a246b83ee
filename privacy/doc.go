// Package privacy owns the audit log: who viewed, downloaded, exported,
// shared, unshared, redacted or deleted which clip, and who signed in or
// failed to. Log implements audit.Recorder, which the other domains record
// into; Handler serves the log to a clip's owner (their clips only) and to
// site admins (the whole site), as JSON or CSV.
//
// Limits: entries keep the actor's name and the clip's title as they were
// at the time, so the log survives renames and deletions, and are removed
// only by Purge (the retention period). A view of one clip by one person is
// recorded once per ViewWindow. Recording is best effort: a failure is
// logged by the caller and does not undo what was done.
//
// The site's privacy policy (consent before sharing, downloads, retention)
// is the subpackage privacy/policy; the data export and account deletion
// are privacy/export.
package privacy
