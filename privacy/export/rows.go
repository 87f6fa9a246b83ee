package export

import (
	"archive/zip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// The parts of the export that are rows the person wrote anywhere (not
// only on their own clips) are read here with SQL, one row at a time, so
// that a prolific coach's export stays in bounded memory.

// rowFunc scans one row into a value to encode.
type rowFunc func(rows *sql.Rows) (any, error)

// writeRows writes the query's rows to w as a JSON array.
func (x *Exporter) writeRows(ctx context.Context, w io.Writer, query string, args []any, scan rowFunc) error {
	rows, err := x.d.DB.Reader().Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	first := true
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return err
		}
		if !first {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		first = false
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = io.WriteString(w, "]")
	return err
}

type reply struct {
	ID           string    `json:"id"`
	AnnotationID string    `json:"annotation_id"`
	InReplyTo    string    `json:"in_reply_to,omitempty"`
	AuthorID     string    `json:"author_id"`
	AuthorName   string    `json:"author_name"`
	Body         string    `json:"body"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func replyRow(rows *sql.Rows) (any, error) {
	var r reply
	var created, updated int64
	err := rows.Scan(&r.ID, &r.AnnotationID, &r.InReplyTo, &r.AuthorID, &r.AuthorName, &r.Body, &created, &updated)
	r.CreatedAt, r.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	return r, err
}

type authoredAnnotation struct {
	ID         string    `json:"id"`
	ClipID     string    `json:"clip_id"`
	ClipTitle  string    `json:"clip_title"`
	StartMS    int64     `json:"start_ms"`
	EndMS      *int64    `json:"end_ms,omitempty"`
	Body       string    `json:"body"`
	Kind       string    `json:"kind"`
	Visibility string    `json:"visibility"`
	Tags       []string  `json:"tags"`
	Criterion  string    `json:"criterion,omitempty"`
	Level      string    `json:"level,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func authoredRow(rows *sql.Rows) (any, error) {
	var a authoredAnnotation
	var end sql.NullInt64
	var tags string
	var created, updated int64
	if err := rows.Scan(&a.ID, &a.ClipID, &a.ClipTitle, &a.StartMS, &end, &a.Body, &a.Kind, &a.Visibility, &tags,
		&a.Criterion, &a.Level, &created, &updated); err != nil {
		return nil, err
	}
	if end.Valid {
		a.EndMS = &end.Int64
	}
	if err := json.Unmarshal([]byte(tags), &a.Tags); err != nil || a.Tags == nil {
		a.Tags = []string{}
	}
	a.CreatedAt, a.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	return a, nil
}

// writeAuthored writes the annotations and replies the user wrote on
// clips they do not own.
func (x *Exporter) writeAuthored(ctx context.Context, a accounts.Actor, z *zip.Writer, now time.Time) error {
	f, err := create(z, "annotations-authored.json", now)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, `{"annotations":`); err != nil {
		return err
	}
	if err := x.writeRows(ctx, f, `SELECT a.id, a.clip_id, c.title, a.start_ms, a.end_ms, a.body, a.kind, a.visibility, a.tags,
		COALESCE(a.criterion_title, ''), COALESCE(a.level_label, ''), a.created_at, a.updated_at
		FROM annotations a JOIN clips c ON c.id = a.clip_id
		WHERE a.author_id = ? AND c.owner_id <> ? AND a.deleted_at IS NULL ORDER BY a.created_at, a.id`,
		[]any{a.UserID, a.UserID}, authoredRow); err != nil {
		return fmt.Errorf("export authored annotations: %w", err)
	}
	if _, err := io.WriteString(f, `,"replies":`); err != nil {
		return err
	}
	if err := x.writeRows(ctx, f, `SELECT r.id, r.annotation_id, COALESCE(r.in_reply_to, ''), r.author_id, COALESCE(u.name, ''), r.body, r.created_at, r.updated_at
		FROM annotation_replies r JOIN clips c ON c.id = r.clip_id LEFT JOIN users u ON u.id = r.author_id
		WHERE r.author_id = ? AND c.owner_id <> ? AND r.deleted_at IS NULL ORDER BY r.created_at, r.id`,
		[]any{a.UserID, a.UserID}, replyRow); err != nil {
		return fmt.Errorf("export authored replies: %w", err)
	}
	_, err = io.WriteString(f, "}\n")
	return err
}

type reflection struct {
	ClipID      string     `json:"clip_id"`
	ClipTitle   string     `json:"clip_title"`
	WentWell    string     `json:"went_well"`
	ToChange    string     `json:"to_change"`
	Evidence    string     `json:"evidence"`
	Status      string     `json:"status"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func reflectionRow(rows *sql.Rows) (any, error) {
	var r reflection
	var submitted sql.NullInt64
	var created, updated int64
	err := rows.Scan(&r.ClipID, &r.ClipTitle, &r.WentWell, &r.ToChange, &r.Evidence, &r.Status, &submitted, &created, &updated)
	r.SubmittedAt = sqldb.NullTime(submitted)
	r.CreatedAt, r.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	return r, err
}

func (x *Exporter) writeReflections(ctx context.Context, a accounts.Actor, z *zip.Writer, now time.Time) error {
	f, err := create(z, "reflections.json", now)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, `{"reflections":`); err != nil {
		return err
	}
	if err := x.writeRows(ctx, f, `SELECT r.clip_id, c.title, r.went_well, r.to_change, r.evidence, r.status, r.submitted_at, r.created_at, r.updated_at
		FROM reflections r JOIN clips c ON c.id = r.clip_id WHERE r.author_id = ? ORDER BY r.created_at, r.clip_id`,
		[]any{a.UserID}, reflectionRow); err != nil {
		return fmt.Errorf("export reflections: %w", err)
	}
	_, err = io.WriteString(f, "}\n")
	return err
}

// auditEntry is an audit event as the export shows it.
type auditEntry struct {
	At        time.Time `json:"at"`
	ActorID   string    `json:"actor_id,omitempty"`
	Action    string    `json:"action"`
	ClipID    string    `json:"clip_id,omitempty"`
	ClipTitle string    `json:"clip_title,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Address   string    `json:"address,omitempty"`
}

func (x *Exporter) writeAudit(ctx context.Context, a accounts.Actor, z *zip.Writer, now time.Time) error {
	if x.d.AuditLog == nil {
		return writeJSON(z, "audit.json", map[string]any{"enabled": false, "note": "audit log not enabled on this server", "entries": []auditEntry{}}, now)
	}
	events, err := x.d.AuditLog.ListForUser(ctx, a.UserID)
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	out := make([]auditEntry, 0, len(events))
	for _, e := range events {
		out = append(out, auditEntry{At: e.At.UTC(), ActorID: e.ActorID, Action: string(e.Action), ClipID: e.ClipID, ClipTitle: e.ClipTitle,
			Subject: e.Subject, Detail: e.Detail, Address: e.Address})
	}
	return writeJSON(z, "audit.json", map[string]any{"enabled": true, "entries": out}, now)
}
