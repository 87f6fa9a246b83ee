package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Reply is one message in an annotation's thread.
type Reply struct {
	ID           string `json:"id"`
	AnnotationID string `json:"annotation_id"`
	ClipID       string `json:"clip_id"`
	// InReplyTo is the reply this one answers, inside the same thread.
	InReplyTo string     `json:"in_reply_to,omitempty"`
	Author    Person     `json:"author"`
	Body      string     `json:"body"`
	BodyHTML  string     `json:"body_html"`
	Revision  int        `json:"revision"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// ReplyInput creates a reply or (Body only) edits one.
type ReplyInput struct {
	Body      string `json:"body"`
	InReplyTo string `json:"in_reply_to,omitempty"`
}

const replyCols = `r.id, r.annotation_id, r.clip_id, COALESCE(r.in_reply_to, ''), r.author_id, COALESCE(u.name, ''),
	r.body, r.revision, r.created_at, r.updated_at, r.deleted_at
	FROM annotation_replies r LEFT JOIN users u ON u.id = r.author_id`

func scanReply(sc interface{ Scan(...any) error }) (Reply, error) {
	var r Reply
	var created, updated int64
	var deleted sql.NullInt64
	err := sc.Scan(&r.ID, &r.AnnotationID, &r.ClipID, &r.InReplyTo, &r.Author.ID, &r.Author.Name, &r.Body,
		&r.Revision, &created, &updated, &deleted)
	if err != nil {
		return r, err
	}
	r.BodyHTML = RenderBody(r.Body)
	r.CreatedAt, r.UpdatedAt, r.DeletedAt = sqldb.Time(created), sqldb.Time(updated), sqldb.NullTime(deleted)
	return r, nil
}

func loadReply(ctx context.Context, q sqldb.Q, replyID string) (Reply, error) {
	r, err := scanReply(q.QueryRow(ctx, `SELECT `+replyCols+` WHERE r.id = ?`, replyID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.NotFound("reply")
	}
	if err != nil {
		return r, fmt.Errorf("read reply %s: %w", replyID, err)
	}
	return r, nil
}

// replies lists the thread of an annotation the actor may see. Deleted
// replies stay in the thread as placeholders (body removed) so that
// answers to them keep their context; reflect-first hides others' replies
// from the clip owner like it hides their annotations.
func (s *Service) replies(ctx context.Context, a accounts.Actor, ann Annotation) ([]Reply, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT `+replyCols+` WHERE r.annotation_id = ? ORDER BY r.created_at, r.id`, ann.ID)
	if err != nil {
		return nil, fmt.Errorf("read replies of %s: %w", ann.ID, err)
	}
	defer rows.Close()
	var all []Reply
	for rows.Next() {
		r, err := scanReply(rows)
		if err != nil {
			return nil, fmt.Errorf("read replies of %s: %w", ann.ID, err)
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var clip ClipInfo
	hidden := false
	if len(all) > 0 {
		if clip, err = s.clips.Authorize(ctx, a, accounts.ClipView, ann.ClipID); err != nil {
			return nil, err
		}
		if hidden, err = s.HidesFeedback(ctx, a, clip); err != nil {
			return nil, err
		}
	}
	out := []Reply{}
	for _, r := range all {
		if hidden && r.Author.ID != a.UserID {
			continue
		}
		if r.DeletedAt != nil && r.Author.ID != a.UserID {
			r.Body, r.BodyHTML = "", ""
		}
		out = append(out, r)
	}
	return out, nil
}

// ownReplyCounts replaces reply_count by the number of the viewer's own
// replies, for a viewer from whom reflect-first hides others' feedback
// (the count alone would tell that feedback exists).
func (s *Service) ownReplyCounts(ctx context.Context, a accounts.Actor, items []Annotation) error {
	for start := 0; start < len(items); start += 500 {
		chunk := items[start:min(start+500, len(items))]
		args := []any{a.UserID}
		at := map[string]int{}
		for i := range chunk {
			args = append(args, chunk[i].ID)
			at[chunk[i].ID] = start + i
			items[start+i].ReplyCount = 0
		}
		rows, err := s.db.Reader().Query(ctx, `SELECT annotation_id, COUNT(*) FROM annotation_replies
			WHERE author_id = ? AND deleted_at IS NULL AND annotation_id IN (`+sqldb.In(len(chunk))+`) GROUP BY annotation_id`, args...)
		if err != nil {
			return fmt.Errorf("count replies: %w", err)
		}
		for rows.Next() {
			var annID string
			var n int
			if err := rows.Scan(&annID, &n); err != nil {
				rows.Close()
				return fmt.Errorf("count replies: %w", err)
			}
			items[at[annID]].ReplyCount = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("count replies: %w", err)
		}
	}
	return nil
}

func replyEvent(typ, actor string, parent Annotation, r Reply) (Event, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return Event{}, fmt.Errorf("encode reply %s: %w", r.ID, err)
	}
	e := Event{ClipID: r.ClipID, Type: typ, ActorID: actor, Data: data}
	if parent.Visibility == VisibilityPrivate {
		e.OnlyUserID = parent.Author.ID
	}
	return e, nil
}

// CreateReply adds a reply to an annotation of the clip.
func (s *Service) CreateReply(ctx context.Context, a accounts.Actor, clipID, annID string, in ReplyInput) (Reply, error) {
	parent, _, err := s.readable(ctx, a, clipID, annID)
	if err != nil {
		return Reply{}, err
	}
	if parent.DeletedAt != nil {
		return Reply{}, apperr.NotFound("annotation")
	}
	if _, err := s.clips.Authorize(ctx, a, accounts.ClipAnnotate, clipID); err != nil {
		return Reply{}, err
	}
	v := &apperr.Validation{}
	checkBody(v, "body", in.Body, true)
	if in.InReplyTo != "" {
		prev, err := loadReply(ctx, s.db.Reader(), in.InReplyTo)
		if err != nil && !isNotFound(err) {
			return Reply{}, err
		}
		if err != nil || prev.AnnotationID != annID {
			v.Add("in_reply_to", "is not a reply in this thread")
		}
	}
	if err := v.Err(); err != nil {
		return Reply{}, err
	}
	rid := id.New()
	var r Reply
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		now := sqldb.Millis(s.clock())
		if _, err := q.Exec(ctx, `INSERT INTO annotation_replies (id, annotation_id, clip_id, in_reply_to, author_id, body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, rid, annID, clipID, nullable(in.InReplyTo), a.UserID, in.Body, now, now); err != nil {
			return fmt.Errorf("insert reply to %s: %w", annID, err)
		}
		var err error
		if r, err = loadReply(ctx, q, rid); err != nil {
			return err
		}
		if ev, err = replyEvent(EventReplyCreated, a.UserID, parent, r); err != nil {
			return err
		}
		ev, err = AppendTx(ctx, q, ev)
		return err
	})
	if err != nil {
		return r, err
	}
	s.publish(ctx, ev)
	return r, nil
}

// ownReply loads a reply of the thread that the actor wrote.
func (s *Service) ownReply(ctx context.Context, a accounts.Actor, clipID, annID, replyID string) (Annotation, Reply, error) {
	parent, _, err := s.readable(ctx, a, clipID, annID)
	if err != nil {
		return parent, Reply{}, err
	}
	r, err := loadReply(ctx, s.db.Reader(), replyID)
	if err != nil {
		return parent, r, err
	}
	if r.AnnotationID != annID {
		return parent, r, apperr.NotFound("reply")
	}
	if r.Author.ID != a.UserID {
		return parent, r, apperr.Forbidden("only the author may change a reply")
	}
	return parent, r, nil
}

// UpdateReply edits a reply's body, keeping the previous one in history.
func (s *Service) UpdateReply(ctx context.Context, a accounts.Actor, clipID, annID, replyID string, in ReplyInput) (Reply, error) {
	parent, cur, err := s.ownReply(ctx, a, clipID, annID, replyID)
	if err != nil {
		return cur, err
	}
	if cur.DeletedAt != nil {
		return cur, apperr.NotFound("reply")
	}
	v := &apperr.Validation{}
	checkBody(v, "body", in.Body, true)
	if in.InReplyTo != "" && in.InReplyTo != cur.InReplyTo {
		v.Add("in_reply_to", "cannot be changed")
	}
	if err := v.Err(); err != nil {
		return cur, err
	}
	var r Reply
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		before, err := loadReply(ctx, q, replyID)
		if err != nil {
			return err
		}
		if err := s.keepRevision(ctx, q, replyID, clipID, before.Revision, before, a.UserID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE annotation_replies SET body = ?, revision = revision + 1, updated_at = ? WHERE id = ?`,
			in.Body, sqldb.Millis(s.clock()), replyID); err != nil {
			return fmt.Errorf("update reply %s: %w", replyID, err)
		}
		if r, err = loadReply(ctx, q, replyID); err != nil {
			return err
		}
		if ev, err = replyEvent(EventReplyUpdated, a.UserID, parent, r); err != nil {
			return err
		}
		ev, err = AppendTx(ctx, q, ev)
		return err
	})
	if err != nil {
		return r, err
	}
	s.publish(ctx, ev)
	return r, nil
}

// DeleteReply soft-deletes a reply (its author only).
func (s *Service) DeleteReply(ctx context.Context, a accounts.Actor, clipID, annID, replyID string) (Reply, error) {
	parent, cur, err := s.ownReply(ctx, a, clipID, annID, replyID)
	if err != nil || cur.DeletedAt != nil {
		return cur, err
	}
	var r Reply
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		now := sqldb.Millis(s.clock())
		if _, err := q.Exec(ctx, `UPDATE annotation_replies SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ?`,
			now, a.UserID, now, replyID); err != nil {
			return fmt.Errorf("delete reply %s: %w", replyID, err)
		}
		var err error
		if r, err = loadReply(ctx, q, replyID); err != nil {
			return err
		}
		if ev, err = replyEvent(EventReplyDeleted, a.UserID, parent, r); err != nil {
			return err
		}
		ev, err = AppendTx(ctx, q, ev)
		return err
	})
	if err != nil {
		return r, err
	}
	s.publish(ctx, ev)
	return r, nil
}
