package transcode

import (
	"errors"
	"fmt"
	"time"
)

// Rejection codes. They are stable identifiers the API and the frontend may
// switch on; Reason is the text shown to the person who uploaded the file.
const (
	CodeEmpty          = "empty"
	CodeNotMedia       = "not_media"
	CodeTruncated      = "truncated"
	CodeNoStreams      = "no_streams"
	CodeTooShort       = "too_short"
	CodeTooLong        = "too_long"
	CodeTooLarge       = "too_large"
	CodeTooSmall       = "too_small"
	CodeTooManyStreams = "too_many_streams"
)

// Rejection is an error about the uploaded file itself: retrying will not
// help, the person must export or upload the file again. Reason says what
// is wrong and what to do, in plain words.
type Rejection struct {
	Code   string
	Reason string
}

func (r *Rejection) Error() string { return "file rejected (" + r.Code + "): " + r.Reason }

// AsRejection returns the *Rejection in err's chain, if any, so callers can
// mark a clip failed with a reason instead of retrying the job.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	ok := errors.As(err, &r)
	return r, ok
}

var reasons = map[string]string{
	CodeEmpty:     "This file is empty (0 bytes), so the upload probably did not finish. Please upload the video again.",
	CodeNotMedia:  "This file is not a video or audio file we can read. Export it again as MP4 (H.264) and upload it again.",
	CodeTruncated: "This file is incomplete: it stops before the end of the recording, usually because a copy or upload was interrupted. Upload the complete file again.",
	CodeNoStreams: "This file contains no video or audio we can play. Check that you picked the right file, or export it again as MP4 (H.264) and upload it again.",
}

func reject(code string) *Rejection {
	return &Rejection{Code: code, Reason: reasons[code]}
}

// Limits bound what we accept. They protect the workers (a 10-hour or 16K
// upload would occupy a node for a day) and catch files that are not what
// the teacher meant to upload.
type Limits struct {
	MinDuration time.Duration
	MaxDuration time.Duration
	// MaxWidth x MaxHeight is the largest frame, in either orientation: a
	// portrait 2160x3840 clip fits a 3840x2160 limit.
	MaxWidth, MaxHeight int
	MinWidth, MinHeight int
	MaxStreams          int
	MaxFileSize         int64 // bytes; 0 means no limit
}

// DefaultLimits fits lesson recordings: up to 4 hours, up to 8K, at least
// 16x16 pixels, 16 streams, 50 GB.
func DefaultLimits() Limits {
	return Limits{
		MinDuration: 200 * time.Millisecond,
		MaxDuration: 4 * time.Hour,
		MaxWidth:    7680, MaxHeight: 4320,
		MinWidth: 16, MinHeight: 16,
		MaxStreams:  16,
		MaxFileSize: 50 << 30,
	}
}

// Validate checks a probed file against the limits and returns a
// *Rejection for the first problem found, nil when the file can be
// transcoded.
func Validate(p *Probe, l Limits) error {
	if p == nil {
		return errors.New("validate: nil probe")
	}
	if !p.HasVideo && !p.HasAudio {
		return reject(CodeNoStreams)
	}
	if l.MaxFileSize > 0 && p.Size > l.MaxFileSize {
		return &Rejection{Code: CodeTooLarge, Reason: fmt.Sprintf(
			"This file is %s; the largest we accept is %s. Export it again at 1080p, or trim it to the part you want to review, and upload it again.",
			humanBytes(p.Size), humanBytes(l.MaxFileSize))}
	}
	if l.MaxStreams > 0 && p.Streams > l.MaxStreams {
		return &Rejection{Code: CodeTooManyStreams, Reason: fmt.Sprintf(
			"This file has %d tracks; we accept at most %d. Export it again as MP4 (H.264) with one video and one audio track and upload it again.",
			p.Streams, l.MaxStreams)}
	}
	if p.HasVideo {
		long, short := max(p.Width, p.Height), min(p.Width, p.Height)
		maxLong, maxShort := max(l.MaxWidth, l.MaxHeight), min(l.MaxWidth, l.MaxHeight)
		minLong, minShort := max(l.MinWidth, l.MinHeight), min(l.MinWidth, l.MinHeight)
		if (maxLong > 0 && long > maxLong) || (maxShort > 0 && short > maxShort) {
			return &Rejection{Code: CodeTooLarge, Reason: fmt.Sprintf(
				"This video is %d×%d pixels; the largest we accept is %d×%d. Export it again at 1080p and upload it again.",
				p.Width, p.Height, maxLong, maxShort)}
		}
		if long < minLong || short < minShort {
			return &Rejection{Code: CodeTooSmall, Reason: fmt.Sprintf(
				"This video is only %d×%d pixels, too small to watch. Upload the original recording instead of a preview or thumbnail.",
				p.Width, p.Height)}
		}
	}
	if p.Duration < l.MinDuration {
		return &Rejection{Code: CodeTooShort, Reason: fmt.Sprintf(
			"This file is only %s long, too short to review (it may be a still picture). Upload the full recording.",
			humanDuration(p.Duration))}
	}
	if l.MaxDuration > 0 && p.Duration > l.MaxDuration {
		return &Rejection{Code: CodeTooLong, Reason: fmt.Sprintf(
			"This recording is %s long; the longest we accept is %s. Trim it to the part you want to review and upload it again.",
			humanDuration(p.Duration), humanDuration(l.MaxDuration))}
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f seconds", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
}
