// Revisions: earlier states of annotations and replies, kept on every edit.

package annotations

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
)

func (s *Service) keepRevision(ctx context.Context, q sqldb.Q, targetID, clipID string, revision int, snapshot any, by string) error {
	data, err := json.Marshal(snapshot)
	if err != nil {
		return fmt.Errorf("encode revision of %s: %w", targetID, err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO annotation_revisions (target_id, revision, clip_id, snapshot, edited_by, edited_at)
		VALUES (?, ?, ?, ?, ?, ?)`, targetID, revision, clipID, string(data), by, sqldb.Millis(s.clock())); err != nil {
		return fmt.Errorf("keep revision %d of %s: %w", revision, targetID, err)
	}
	return nil
}

// Revision is one earlier state of an annotation or reply.
type Revision struct {
	Revision int             `json:"revision"`
	EditedBy string          `json:"edited_by"`
	EditedAt time.Time       `json:"edited_at"`
	Snapshot json.RawMessage `json:"snapshot"`
}

// History returns the annotation's earlier states, oldest first; the
// current state is the annotation itself.
func (s *Service) History(ctx context.Context, a accounts.Actor, clipID, annID string) ([]Revision, error) {
	if _, _, err := s.readable(ctx, a, clipID, annID); err != nil {
		return nil, err
	}
	return s.revisions(ctx, annID)
}

func (s *Service) revisions(ctx context.Context, targetID string) ([]Revision, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT revision, edited_by, edited_at, snapshot FROM annotation_revisions
		WHERE target_id = ? ORDER BY revision`, targetID)
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", targetID, err)
	}
	defer rows.Close()
	out := []Revision{}
	for rows.Next() {
		var r Revision
		var at int64
		var snap string
		if err := rows.Scan(&r.Revision, &r.EditedBy, &at, &snap); err != nil {
			return nil, fmt.Errorf("read history of %s: %w", targetID, err)
		}
		r.EditedAt, r.Snapshot = sqldb.Time(at), json.RawMessage(snap)
		out = append(out, r)
	}
	return out, rows.Err()
}
