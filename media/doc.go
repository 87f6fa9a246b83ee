// Package media owns clips and everything that turns an uploaded file into
// playable, captioned media: the clip record and its audience, resumable
// uploads, object storage, probing and transcoding, captions, and the media
// jobs that run them. It also applies the site's privacy policy
// (privacy/policy) to clips: per-clip consent and the download switch
// (consent.go), and retention with its daily job and keep-longer
// (retention.go).
package media
