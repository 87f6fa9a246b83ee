// Package media owns clips and everything that turns an uploaded file into
// playable, captioned media: the clip record and its audience, resumable
// uploads, object storage, probing and transcoding, captions, and the media
// jobs that run them.
package media
