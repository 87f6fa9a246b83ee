package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

// Event is one entry in a clip room's log. Seq increases by one per clip,
// with no gaps, across every node, because the database allocates it.
type Event struct {
	ClipID  string `json:"clip_id"`
	Seq     int64  `json:"seq"`
	Type    string `json:"type"`
	ActorID string `json:"actor_id,omitempty"`
	// OnlyUserID, when set, restricts delivery to that user (changes to a
	// private note travel only to its author).
	OnlyUserID string          `json:"-"`
	At         time.Time       `json:"at"`
	Data       json.RawMessage `json:"data"`
}

// Event types. Annotation events carry the annotation as the REST API
// returns it; sync events carry the sync state after the command.
const (
	EventAnnotationCreated = "annotation.created"
	EventAnnotationUpdated = "annotation.updated"
	EventAnnotationDeleted = "annotation.deleted"
	EventReplyCreated      = "reply.created"
	EventReplyUpdated      = "reply.updated"
	EventReplyDeleted      = "reply.deleted"
	// EventCaptionsChanged carries the clip's caption state (job status and
	// tracks, as GET /clips/{id}/captions returns it) after an edit, an
	// upload, a revert or a step of the automatic captions job.
	EventCaptionsChanged = "captions.changed"
)

// VisibleTo reports whether a user may receive the event.
func (e Event) VisibleTo(userID string) bool {
	return e.OnlyUserID == "" || e.OnlyUserID == userID
}

// EventLog appends to and reads from clip_events.
type EventLog struct {
	db *sqldb.DB
}

// NewEventLog returns the log over db.
func NewEventLog(db *sqldb.DB) *EventLog { return &EventLog{db: db} }

// AppendTx allocates the next seq for the clip and stores the event, inside
// the caller's transaction so that the change and its event commit together.
func AppendTx(ctx context.Context, q sqldb.Q, e Event) (Event, error) {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	// Both dialects support INSERT … ON CONFLICT DO UPDATE … RETURNING; the
	// row lock it takes serializes writers of the same clip on PostgreSQL,
	// and SQLite has one writer anyway.
	err := q.QueryRow(ctx, `INSERT INTO clip_seq (clip_id, seq) VALUES (?, 1)
		ON CONFLICT (clip_id) DO UPDATE SET seq = clip_seq.seq + 1
		RETURNING seq`, e.ClipID).Scan(&e.Seq)
	if err != nil {
		return e, fmt.Errorf("allocate seq for clip %s: %w", e.ClipID, err)
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage("{}")
	}
	_, err = q.Exec(ctx, `INSERT INTO clip_events (clip_id, seq, type, actor_id, only_user_id, data, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, e.ClipID, e.Seq, e.Type, e.ActorID, e.OnlyUserID, string(e.Data), sqldb.Millis(e.At))
	if err != nil {
		return e, fmt.Errorf("store event %s of clip %s: %w", e.Type, e.ClipID, err)
	}
	return e, nil
}

// Append stores one event in its own transaction.
func (l *EventLog) Append(ctx context.Context, e Event) (Event, error) {
	err := l.db.Tx(ctx, func(q sqldb.Q) error {
		var err error
		e, err = AppendTx(ctx, q, e)
		return err
	})
	return e, err
}

// Since returns up to limit events of the clip with seq > after, in order.
func (l *EventLog) Since(ctx context.Context, clipID string, after int64, limit int) ([]Event, error) {
	rows, err := l.db.Reader().Query(ctx, `SELECT seq, type, actor_id, only_user_id, data, created_at
		FROM clip_events WHERE clip_id = ? AND seq > ? ORDER BY seq LIMIT ?`, clipID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read events of clip %s after %d: %w", clipID, after, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e := Event{ClipID: clipID}
		var data string
		var at int64
		if err := rows.Scan(&e.Seq, &e.Type, &e.ActorID, &e.OnlyUserID, &data, &at); err != nil {
			return nil, fmt.Errorf("read events of clip %s: %w", clipID, err)
		}
		e.Data = json.RawMessage(data)
		e.At = sqldb.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Head returns the clip's current seq (0 when it has no events).
func (l *EventLog) Head(ctx context.Context, clipID string) (int64, error) {
	var seq int64
	err := l.db.Reader().QueryRow(ctx, `SELECT seq FROM clip_seq WHERE clip_id = ?`, clipID).Scan(&seq)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read seq of clip %s: %w", clipID, err)
	}
	return seq, nil
}
