package live

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

// syncLog reads the sync.* events of clip_events (the table annotations
// owns), for a room's initial state and the session-log export. The SQL is
// the same on both dialects.
type syncLog struct{ db *sqldb.DB }

const syncTypes = `type IN ('sync.start', 'sync.play', 'sync.pause', 'sync.seek', 'sync.rate', 'sync.host', 'sync.end')`

// last returns the state of the clip's latest sync event (zero if none).
func (l syncLog) last(ctx context.Context, clipID string) (SyncState, error) {
	var data string
	err := l.db.Reader().QueryRow(ctx, `SELECT data FROM clip_events WHERE clip_id = ? AND `+syncTypes+`
		ORDER BY seq DESC LIMIT 1`, clipID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return SyncState{}, nil
	}
	if err != nil {
		return SyncState{}, fmt.Errorf("read sync state of clip %s: %w", clipID, err)
	}
	return decodeSyncState([]byte(data))
}

// SessionLogEntry is one sync command in the exported session log.
type SessionLogEntry struct {
	Seq     int64     `json:"seq"`
	Type    string    `json:"type"`
	ActorID string    `json:"actor_id"`
	At      time.Time `json:"at"`
	State   SyncState `json:"state"`
}

// list returns up to limit sync events after seq after, in order.
func (l syncLog) list(ctx context.Context, clipID string, after int64, limit int) ([]SessionLogEntry, error) {
	rows, err := l.db.Reader().Query(ctx, `SELECT seq, type, actor_id, data, created_at FROM clip_events
		WHERE clip_id = ? AND seq > ? AND `+syncTypes+` ORDER BY seq LIMIT ?`, clipID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read session log of clip %s: %w", clipID, err)
	}
	defer rows.Close()
	out := []SessionLogEntry{}
	for rows.Next() {
		var e SessionLogEntry
		var data string
		var at int64
		if err := rows.Scan(&e.Seq, &e.Type, &e.ActorID, &data, &at); err != nil {
			return nil, fmt.Errorf("read session log of clip %s: %w", clipID, err)
		}
		if err := json.Unmarshal([]byte(data), &e.State); err != nil {
			return nil, fmt.Errorf("read session log of clip %s at seq %d: %w", clipID, e.Seq, err)
		}
		e.At = sqldb.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
