package live

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/filmroom/filmroom/internal/apperr"
)

// SyncState is the authoritative state of a synchronized review session,
// the data of every sync.* event. Followers compute where playback should
// be from it alone (see Target), so a lost or late message never
// accumulates error.
type SyncState struct {
	Active   bool   `json:"active"`
	HostID   string `json:"host_id,omitempty"`
	HostName string `json:"host_name,omitempty"`
	Playing  bool   `json:"playing"`
	// PositionMS is the media position at server time AtServerMS.
	PositionMS float64 `json:"position_ms"`
	Rate       float64 `json:"rate"`
	AtServerMS int64   `json:"at_server_ms"`
	// By is the user whose command produced this state.
	By string `json:"by,omitempty"`
}

// Target is the media position (ms) the session is at, at server time
// serverMS: the stored position, advanced by the elapsed time times the
// rate while playing.
func (s SyncState) Target(serverMS float64) float64 {
	if !s.Playing {
		return s.PositionMS
	}
	return math.Max(0, s.PositionMS+(serverMS-float64(s.AtServerMS))*s.Rate)
}

// syncActor is who sends a command and what they may do.
type syncActor struct {
	UserID  string
	Name    string
	CanHost bool
}

// syncInput is what applySync needs beyond the command: the current state,
// the server time, and the room's view of who is present.
type syncInput struct {
	State       SyncState
	NowMS       int64
	HostPresent bool
	// Eligible reports whether a user is present with permission to host,
	// and returns their display name.
	Eligible func(userID string) (string, bool)
}

// applySync validates a sync command and returns the event type to append
// and the state after it. It is pure, so every rule is unit-tested.
func applySync(in syncInput, a syncActor, m ClientMessage) (string, SyncState, error) {
	cur := in.State
	next := cur
	next.By = a.UserID
	now := in.NowMS
	isHost := cur.Active && cur.HostID == a.UserID
	// at is when the command took effect: the host's estimate of server
	// time when it acted, if plausible, else now. It never goes back before
	// the current state, so Target stays monotonic in time.
	at := now
	if m.AtMS != nil && *m.AtMS <= now && *m.AtMS >= now-maxAtSkewMS {
		at = *m.AtMS
	}
	if at < cur.AtServerMS {
		at = cur.AtServerMS
	}
	pos := func() float64 {
		if m.PositionMS != nil {
			return float64(*m.PositionMS)
		}
		return cur.Target(float64(at))
	}
	notHost := apperr.Forbidden("only the host controls playback; send sync.request to ask for control")
	// The host's right is re-checked on every command: a host who may no
	// longer host (a role change) commands nothing, and a member who may
	// host can take the session over (the host no longer counts as present).
	lostHost := apperr.Forbidden("you may no longer host a session on this clip; someone who may host can take it over")
	switch m.Type {
	case MsgSyncStart, MsgSyncTake:
		if !a.CanHost {
			return "", cur, apperr.Forbidden("you may not host a session on this clip")
		}
		if cur.Active && !isHost && in.HostPresent {
			return "", cur, apperr.New(apperr.ErrConflict, "session_active", "a session is running with its host present; send sync.request to ask for control")
		}
		if m.Type == MsgSyncTake && !cur.Active {
			return "", cur, apperr.New(apperr.ErrConflict, "no_session", "there is no session to take over; send sync.start")
		}
		next.HostID, next.HostName = a.UserID, a.Name
		if !cur.Active {
			next = SyncState{Active: true, HostID: a.UserID, HostName: a.Name, Rate: 1, By: a.UserID}
			if m.PositionMS != nil {
				next.PositionMS = float64(*m.PositionMS)
			}
		} else {
			next.PositionMS = pos()
		}
		if m.Playing != nil {
			next.Playing = *m.Playing
		}
		if m.Rate != nil {
			next.Rate = *m.Rate
		}
		next.AtServerMS = now
		if cur.Active {
			return EventSyncHost, next, nil
		}
		return EventSyncStart, next, nil
	case MsgSyncPlay, MsgSyncPause, MsgSyncSeek, MsgSyncRate:
		if !isHost {
			return "", cur, notHost
		}
		if !a.CanHost {
			return "", cur, lostHost
		}
		next.PositionMS = pos()
		next.AtServerMS = at
		switch m.Type {
		case MsgSyncPlay:
			next.Playing = true
			return EventSyncPlay, next, nil
		case MsgSyncPause:
			next.Playing = false
			return EventSyncPause, next, nil
		case MsgSyncSeek:
			return EventSyncSeek, next, nil
		default:
			next.Rate = *m.Rate
			return EventSyncRate, next, nil
		}
	case MsgSyncHandoff:
		if !isHost {
			return "", cur, notHost
		}
		if !a.CanHost {
			return "", cur, lostHost
		}
		name, ok := in.Eligible(m.UserID)
		if !ok {
			return "", cur, apperr.Invalid("user_id", "must be a member present in the room who may host this clip")
		}
		next.HostID, next.HostName = m.UserID, name
		next.PositionMS = cur.Target(float64(now))
		next.AtServerMS = now
		return EventSyncHost, next, nil
	case MsgSyncEnd:
		if !isHost {
			return "", cur, notHost
		}
		if !a.CanHost {
			return "", cur, lostHost
		}
		return EventSyncEnd, endedState(cur, now, a.UserID), nil
	}
	return "", cur, fmt.Errorf("apply sync: %s is not a sync command", m.Type)
}

// endedState is the state after a session ends: paused where it was.
func endedState(cur SyncState, nowMS int64, by string) SyncState {
	return SyncState{Active: false, PositionMS: cur.Target(float64(nowMS)), Rate: 1, AtServerMS: nowMS, By: by}
}

// decodeSyncState reads a sync event's data.
func decodeSyncState(data []byte) (SyncState, error) {
	var s SyncState
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("decode sync state: %w", err)
	}
	return s, nil
}

func isSyncEvent(t string) bool {
	switch t {
	case EventSyncStart, EventSyncPlay, EventSyncPause, EventSyncSeek, EventSyncRate, EventSyncHost, EventSyncEnd:
		return true
	}
	return false
}
