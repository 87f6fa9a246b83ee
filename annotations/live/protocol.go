package live

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
)

// ProtocolVersion is the "v" of hello and welcome. A client speaking
// another version is closed with CloseProtocol.
const ProtocolVersion = 1

// Close codes the server uses besides the standard ones (1001 going away at
// shutdown, 1003 binary frame, 1009 message too big, 1011 server error).
const (
	// CloseProtocol: no hello within Config.HelloWait, a first message that
	// is not hello, or an unsupported protocol version.
	CloseProtocol = 4000
	// CloseTooSlow: the send queue filled up; reconnect with since.
	CloseTooSlow = 4008
	// CloseRateLimited: the client kept sending over its rate limit.
	CloseRateLimited = 4029
	// CloseBadMessages: too many malformed or unknown messages.
	CloseBadMessages = 4400
	// CloseSignedOut: the session or token the socket was opened with
	// ended (sign-out, password change, token deleted, expiry).
	CloseSignedOut = 4401
	// CloseAccessRevoked: the user may no longer see the clip (audience
	// changed, removed from a group, group archived, clip deleted).
	CloseAccessRevoked = 4403
)

// Client message types.
const (
	MsgHello            = "hello"
	MsgPing             = "ping"
	MsgAnnotationCreate = "annotation.create"
	MsgAnnotationUpdate = "annotation.update"
	MsgAnnotationDelete = "annotation.delete"
	MsgPlayhead         = "playhead"
	MsgTyping           = "typing"
	MsgFollow           = "follow"
	MsgPointer          = "pointer"
	MsgSyncStart        = "sync.start"
	MsgSyncPlay         = "sync.play"
	MsgSyncPause        = "sync.pause"
	MsgSyncSeek         = "sync.seek"
	MsgSyncRate         = "sync.rate"
	MsgSyncHandoff      = "sync.handoff"
	MsgSyncRequest      = "sync.request"
	MsgSyncTake         = "sync.take"
	MsgSyncEnd          = "sync.end"
)

// Sync event types appended to the clip event log. Their data is the
// SyncState after the command.
const (
	EventSyncStart = "sync.start"
	EventSyncPlay  = "sync.play"
	EventSyncPause = "sync.pause"
	EventSyncSeek  = "sync.seek"
	EventSyncRate  = "sync.rate"
	EventSyncHost  = "sync.host"
	EventSyncEnd   = "sync.end"
)

// ClientMessage is one decoded message from a client. Which fields may be
// set depends on Type (see allowedFields); DecodeClientMessage enforces it.
type ClientMessage struct {
	Type string `json:"type"`
	// Ref is echoed in the ack or error that answers the message.
	Ref string `json:"ref,omitempty"`

	V     int    `json:"v,omitempty"`     // hello
	Since *int64 `json:"since,omitempty"` // hello
	T     *int64 `json:"t,omitempty"`     // ping: the client's clock, echoed in pong

	ID   string          `json:"id,omitempty"`   // annotation.update/delete
	Body json.RawMessage `json:"body,omitempty"` // annotation.create/update

	PositionMS *int64   `json:"position_ms,omitempty"` // playhead, sync.*
	Playing    *bool    `json:"playing,omitempty"`     // playhead, sync.start
	Rate       *float64 `json:"rate,omitempty"`        // sync.start, sync.rate
	AtMS       *int64   `json:"at_ms,omitempty"`       // sync.play/pause/seek: server time the command took effect at the host
	UserID     string   `json:"user_id,omitempty"`     // sync.handoff
	Typing     *bool    `json:"typing,omitempty"`      // typing
	Following  *bool    `json:"following,omitempty"`   // follow
	X          *float64 `json:"x,omitempty"`           // pointer, 0..1 of the frame width
	Y          *float64 `json:"y,omitempty"`           // pointer, 0..1 of the frame height
}

// allowedFields lists, per type, the fields besides type and ref that may
// be present, and which of them are required (marked with a leading "!").
var allowedFields = map[string][]string{
	MsgHello:            {"!v", "since"},
	MsgPing:             {"!t"},
	MsgAnnotationCreate: {"!body"},
	MsgAnnotationUpdate: {"!id", "!body"},
	MsgAnnotationDelete: {"!id"},
	MsgPlayhead:         {"!position_ms", "playing"},
	MsgTyping:           {"!typing"},
	MsgFollow:           {"!following"},
	MsgPointer:          {"!x", "!y"},
	MsgSyncStart:        {"position_ms", "playing", "rate"},
	MsgSyncPlay:         {"position_ms", "at_ms"},
	MsgSyncPause:        {"position_ms", "at_ms"},
	MsgSyncSeek:         {"!position_ms", "at_ms"},
	MsgSyncRate:         {"!rate"},
	MsgSyncHandoff:      {"!user_id"},
	MsgSyncRequest:      {},
	MsgSyncTake:         {},
	MsgSyncEnd:          {},
}

// Bounds on client-supplied values.
const (
	maxRefLen      = 64
	maxIDLen       = 64
	maxPositionMS  = 24 * 3600 * 1000 // no clip is longer than a day
	minRate        = 0.25
	maxRate        = 4.0
	maxAtSkewMS    = 2000 // how far in the past a host's at_ms may be
	maxReplayLimit = 1000 // events per log read while replaying
)

// DecodeClientMessage parses one text frame strictly: one JSON object, no
// unknown fields, only the fields its type takes, values in range. Errors
// are apperr errors with a code a client can show or act on.
func DecodeClientMessage(data []byte) (ClientMessage, error) {
	var m ClientMessage
	if err := httpx.DecodeJSON(bytes.NewReader(data), &m, int64(len(data))); err != nil {
		return m, err
	}
	if m.Type == "" {
		return m, apperr.Invalid("type", "is required")
	}
	allowed, ok := allowedFields[m.Type]
	if !ok {
		return m, apperr.New(nil, "unknown_type", fmt.Sprintf("message type %q is not part of protocol v%d", truncate(m.Type, 40), ProtocolVersion))
	}
	if len(m.Ref) > maxRefLen {
		return m, apperr.Invalid("ref", "must be at most %d characters", maxRefLen)
	}
	present := m.present()
	want := map[string]bool{}
	for _, f := range allowed {
		req := f[0] == '!'
		if req {
			f = f[1:]
		}
		want[f] = true
		if req && !present[f] {
			return m, apperr.Invalid(f, "is required for %s", m.Type)
		}
	}
	for f := range present {
		if !want[f] {
			return m, apperr.Invalid(f, "is not a field of %s", m.Type)
		}
	}
	return m, m.validate()
}

func (m *ClientMessage) present() map[string]bool {
	p := map[string]bool{}
	set := func(name string, ok bool) {
		if ok {
			p[name] = true
		}
	}
	set("v", m.V != 0)
	set("since", m.Since != nil)
	set("t", m.T != nil)
	set("id", m.ID != "")
	set("body", len(m.Body) > 0 && string(m.Body) != "null")
	set("position_ms", m.PositionMS != nil)
	set("playing", m.Playing != nil)
	set("rate", m.Rate != nil)
	set("at_ms", m.AtMS != nil)
	set("user_id", m.UserID != "")
	set("typing", m.Typing != nil)
	set("following", m.Following != nil)
	set("x", m.X != nil)
	set("y", m.Y != nil)
	return p
}

func (m *ClientMessage) validate() error {
	v := &apperr.Validation{}
	if m.Since != nil && *m.Since < 0 {
		v.Add("since", "must be 0 or more")
	}
	if len(m.ID) > maxIDLen {
		v.Add("id", "must be at most %d characters", maxIDLen)
	}
	if len(m.UserID) > maxIDLen {
		v.Add("user_id", "must be at most %d characters", maxIDLen)
	}
	if m.Body != nil && (len(m.Body) == 0 || m.Body[0] != '{') {
		v.Add("body", "must be a JSON object")
	}
	if m.PositionMS != nil && (*m.PositionMS < 0 || *m.PositionMS > maxPositionMS) {
		v.Add("position_ms", "must be between 0 and %d", maxPositionMS)
	}
	if m.Rate != nil && !(*m.Rate >= minRate && *m.Rate <= maxRate) {
		v.Add("rate", "must be between %g and %g", minRate, maxRate)
	}
	for name, f := range map[string]*float64{"x": m.X, "y": m.Y} {
		if f != nil && (math.IsNaN(*f) || *f < 0 || *f > 1) {
			v.Add(name, "must be between 0 and 1 (a fraction of the frame)")
		}
	}
	return v.Err()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Member is one connection in a room, as every member sees it.
type Member struct {
	ConnID      string `json:"conn_id"`
	UserID      string `json:"user_id"`
	Name        string `json:"name"`
	CanAnnotate bool   `json:"can_annotate"`
	CanHost     bool   `json:"can_host"`
	JoinedAtMS  int64  `json:"joined_at_ms"`
	PlayheadMS  int64  `json:"playhead_ms"`
	Playing     bool   `json:"playing"`
	Typing      bool   `json:"typing"`
	Following   bool   `json:"following"`
}

// Limits tells a client the bounds it must respect; welcome carries them.
type Limits struct {
	MaxMessageBytes int64   `json:"max_message_bytes"`
	RatePerSecond   float64 `json:"rate_per_second"`
	RateBurst       int     `json:"rate_burst"`
	SendQueue       int     `json:"send_queue"`
	RingSize        int     `json:"ring_size"`
	MaxReplay       int     `json:"max_replay"`
	// All of one user's connections to a node together.
	UserRatePerSecond float64 `json:"user_rate_per_second"`
	UserRateBurst     int     `json:"user_rate_burst"`
	MaxConnsPerUser   int     `json:"max_connections_per_user"`
}

// Server messages. Each has its "type" first so logs read well.
type (
	welcomeMsg struct {
		Type     string     `json:"type"`
		V        int        `json:"v"`
		ConnID   string     `json:"conn_id"`
		You      Member     `json:"you"`
		Head     int64      `json:"head"`
		Since    *int64     `json:"since"`
		Members  []Member   `json:"members"`
		Sync     *SyncState `json:"sync"`
		ServerMS int64      `json:"server_ms"`
		Limits   Limits     `json:"limits"`
	}
	eventMsg struct {
		Type    string          `json:"type"`
		Seq     int64           `json:"seq"`
		Event   string          `json:"event"`
		ActorID string          `json:"actor_id,omitempty"`
		At      time.Time       `json:"at"`
		Data    json.RawMessage `json:"data"`
	}
	presenceMsg struct {
		Type   string `json:"type"`
		Op     string `json:"op"` // join, leave, update
		Member Member `json:"member"`
	}
	pointerMsg struct {
		Type   string  `json:"type"`
		UserID string  `json:"user_id"`
		X      float64 `json:"x"`
		Y      float64 `json:"y"`
	}
	requestedMsg struct {
		Type   string `json:"type"`
		UserID string `json:"user_id"`
		Name   string `json:"name"`
	}
	pongMsg struct {
		Type     string `json:"type"`
		T        int64  `json:"t"`
		ServerMS int64  `json:"server_ms"`
	}
	ackMsg struct {
		Type string          `json:"type"`
		Ref  string          `json:"ref,omitempty"`
		Seq  int64           `json:"seq,omitempty"`
		Data json.RawMessage `json:"data,omitempty"`
	}
	errorMsg struct {
		Type    string            `json:"type"`
		Ref     string            `json:"ref,omitempty"`
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	}
)

func encodeEvent(e annotations.Event) []byte {
	if !json.Valid(e.Data) {
		// The log only holds what the server wrote, but one bad row must
		// not take a room down.
		e.Data = json.RawMessage("null")
	}
	return mustJSON(eventMsg{Type: "event", Seq: e.Seq, Event: e.Type, ActorID: e.ActorID, At: e.At, Data: e.Data})
}

// mustJSON encodes server messages, which are built from types that always
// encode; a failure is a programming error.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("live: encode %T: %v", v, err))
	}
	return b
}
