// Package audit defines the event every domain records when someone views,
// downloads, exports, shares, unshares, redacts or deletes something, or
// signs in, and the Recorder that stores it. The privacy package implements
// Recorder; domains depend only on this package, so imports keep pointing
// down the layers.
package audit

import (
	"context"
	"time"
)

// Action names what happened; the values are stored and exported as CSV, so
// they never change meaning.
type Action string

// The actions the audit log knows.
const (
	SignIn          Action = "sign_in"
	SignInFailed    Action = "sign_in_failed"
	ClipView        Action = "clip.view"
	ClipDownload    Action = "clip.download"
	ClipExport      Action = "clip.export"
	ClipShare       Action = "clip.share"
	ClipUnshare     Action = "clip.unshare"
	ClipRedact      Action = "clip.redact"
	ClipDelete      Action = "clip.delete"
	ClipConsent     Action = "clip.consent"
	ClipRetention   Action = "clip.retention"
	AccountExport   Action = "account.export"
	AccountDelete   Action = "account.delete"
	SettingsChanged Action = "settings.change"
)

// Event is one audit entry. ActorID is empty for a failed sign-in of an
// unknown email (Subject then holds the email tried) and for the system's
// own jobs (retention).
type Event struct {
	At      time.Time
	ActorID string
	Action  Action
	// ClipID and ClipOwnerID name the clip acted on, if any; the owner is
	// kept so the owner's log survives the clip's deletion.
	ClipID      string
	ClipOwnerID string
	ClipTitle   string
	// Subject is who or what else the action concerned: the user or group
	// a clip was shared with, the email of a failed sign-in.
	Subject string
	// Detail is a short human-readable note (e.g. "format=webvtt").
	Detail  string
	Address string
}

// Recorder stores audit events. An error means the event was not stored;
// callers log it (an audit failure does not undo what happened).
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Nop records nothing: the default until the server wires the privacy log.
type Nop struct{}

// Record implements Recorder.
func (Nop) Record(context.Context, Event) error { return nil }

type addressKey struct{}

// WithAddress returns ctx carrying the client address of the request, which
// the server's middleware sets so domains need not see the request.
func WithAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, addressKey{}, addr)
}

// AddressFrom returns the client address WithAddress stored, or "".
func AddressFrom(ctx context.Context) string {
	s, _ := ctx.Value(addressKey{}).(string)
	return s
}
