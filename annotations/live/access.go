package live

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
)

// accessRoom is the bus room that carries access changes to every node.
// Clip IDs never contain '-', so it cannot be a clip's room.
const accessRoom = "access-changes"

// AccessChanged re-authorizes, on every node, the connections the change
// concerns, and closes those that lost access: 4401 when their session or
// token ended, 4403 when they may no longer see the clip. Connections that
// keep access get their can_annotate/can_host updated. It never blocks on
// the checks (the hub's access loop makes them), but before it returns the
// local connections concerned are held: nothing is sent to them until they
// have been re-checked, so no event that follows the change reaches a
// connection that lost access by it. The server wires it as the accounts
// service's OnAccessChange hook.
//
// Other nodes hear of the change on the bus: on accessRoom, and on the
// room of every clip open here that the change may concern, so that it
// reaches them before this node's later events in that room.
func (h *Hub) AccessChanged(ctx context.Context, ch accounts.AccessChange) {
	h.noteAccessChange(ch)
	env := envelope{Kind: kindAccess, Access: &ch}
	h.publishOn(ctx, accessRoom, env)
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		if r.concerns(ch) {
			h.publishOn(ctx, r.clipID, env)
		}
	}
}

// concerns reports whether an access change may concern c. A change
// naming only a group concerns every connection: which clips a group
// opens is the policy's business, not the hub's.
func (c *client) concerns(ch accounts.AccessChange) bool {
	return (ch.UserID == "" || c.actor.UserID == ch.UserID) && (ch.ClipID == "" || c.clipID == ch.ClipID)
}

// noteAccessChange holds this node's connections that ch concerns and
// hands them to the access loop. A connection already pending is not held
// twice; its re-check will read the newest state anyway.
func (h *Hub) noteAccessChange(ch accounts.AccessChange) {
	h.accessGen.Add(1)
	h.mu.Lock()
	h.pmu.Lock()
	n := 0
	for c := range h.clients {
		if _, ok := h.pending[c]; !ok && c.concerns(ch) {
			c.hold()
			h.pending[c] = struct{}{}
			n++
		}
	}
	h.pmu.Unlock()
	h.mu.Unlock()
	if n > 0 {
		select {
		case h.wakeCheck <- struct{}{}:
		default:
		}
	}
}

// onAccessBus receives other nodes' access changes.
func (h *Hub) onAccessBus(b []byte) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		h.log.Warn("Dropped an unreadable bus message.", "room", accessRoom, "error", err)
		return
	}
	if env.Node == h.cfg.NodeID || env.Kind != kindAccess || env.Access == nil {
		return
	}
	h.noteAccessChange(*env.Access)
}

// accessLoop re-checks the pending connections, and every connection each
// AccessCheckInterval: a change that bypassed AccessChanged (an edit in
// the database, a lost bus message, a node that was cut off from the bus)
// takes effect within that interval.
func (h *Hub) accessLoop() {
	defer h.bg.Done()
	t := time.NewTicker(h.cfg.AccessCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			h.pmu.Lock()
			for c := range h.pending {
				c.release(false)
			}
			h.pending = map[*client]struct{}{}
			h.pmu.Unlock()
			return
		case <-h.wakeCheck:
			h.pmu.Lock()
			cs := h.pending
			h.pending = map[*client]struct{}{}
			h.pmu.Unlock()
			for c := range cs {
				c.release(h.recheckOne(c))
			}
		case <-t.C:
			h.mu.Lock()
			cs := make([]*client, 0, len(h.clients))
			for c := range h.clients {
				cs = append(cs, c)
			}
			h.mu.Unlock()
			for _, c := range cs {
				if h.ctx.Err() != nil {
					break
				}
				h.recheckOne(c)
			}
		}
	}
}

// recheckOne re-checks c with a deadline and reports whether it keeps
// access.
func (h *Hub) recheckOne(c *client) bool {
	if h.ctx.Err() != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	return c.recheck(ctx)
}

// verdict is the outcome of re-authorizing one action of a connection.
type verdict int

const (
	allowed   verdict = iota
	forbidden         // may see the clip, not do this
	revoked           // may no longer see the clip
	signedOut         // the session or token ended
	unknown           // could not tell (the database is down): keep what we had
)

// check re-authorizes act for c: its credential first, then the clip.
func (c *client) check(ctx context.Context, act accounts.Action) (verdict, error) {
	h := c.hub
	if h.creds != nil {
		if err := h.creds.CheckCredential(ctx, c.actor); err != nil {
			if errors.Is(err, apperr.ErrUnauthorized) {
				return signedOut, err
			}
			return unknown, err
		}
	}
	err := h.authz.Authorize(ctx, c.actor, act, c.clipID)
	switch {
	case err == nil:
		return allowed, nil
	case errors.Is(err, apperr.ErrNotFound):
		return revoked, err
	case errors.Is(err, apperr.ErrForbidden):
		return forbidden, err
	}
	return unknown, err
}

// enforce closes c for a verdict that ends its access and reports whether
// it did.
func (c *client) enforce(v verdict) bool {
	switch v {
	case signedOut:
		c.kill(CloseSignedOut, "signed out")
		return true
	case revoked:
		c.kill(CloseAccessRevoked, "access revoked")
		return true
	}
	return false
}

// recheck re-authorizes c: closed when it lost access, its can_annotate
// and can_host updated (and announced) when they changed. It reports
// whether c keeps access. A check that cannot be made (the database is
// down) changes nothing: the live room keeps working through a database
// outage as far as it can, and the next periodic re-check tries again.
func (c *client) recheck(ctx context.Context) bool {
	v, err := c.check(ctx, accounts.ClipView)
	if c.enforce(v) {
		c.hub.log.Info("Closed a live connection that lost access.", "clip_id", c.clipID, "user_id", c.actor.UserID, "reason", err)
		return false
	}
	if v == unknown {
		c.hub.log.Warn("Could not re-check a live connection's access.", "clip_id", c.clipID, "user_id", c.actor.UserID, "error", err)
		return true
	}
	r := c.joinedRoom()
	if r == nil {
		return true // not joined yet: its caps are set at join from the handler's check
	}
	annotate, host := c.caps()
	if v, _ := c.check(ctx, accounts.ClipAnnotate); v == allowed || v == forbidden {
		annotate = v == allowed
	}
	if v, _ := c.check(ctx, accounts.ClipHost); v == allowed || v == forbidden {
		host = v == allowed
	}
	c.setCaps(annotate, host)
	return true
}

// joinedRoom is the room c joined, or nil before the join.
func (c *client) joinedRoom() *room { return c.joined.Load() }

// caps returns what c may do, as last authorized.
func (c *client) caps() (annotate, host bool) {
	r := c.joinedRoom()
	if r == nil {
		return c.member.CanAnnotate, c.member.CanHost
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return c.member.CanAnnotate, c.member.CanHost
}

// setCaps records and announces a change of what c may do.
func (c *client) setCaps(annotate, host bool) {
	r := c.joinedRoom()
	if r == nil {
		return
	}
	if a, h := c.caps(); a == annotate && h == host {
		return
	}
	r.update(c, func(m *Member) { m.CanAnnotate, m.CanHost = annotate, host })
}

// userState is what the hub keeps per user with sockets on this node: how
// many, and the message budget they share.
type userState struct {
	conns int // guarded by Hub.mu

	mu      sync.Mutex
	limiter tokenBucket
}

func (u *userState) allow(now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.limiter.allow(now)
}

// reserveConn counts a new socket of the user, or refuses it when the user
// has MaxConnsPerUser here already. Hub.mu must be held.
func (h *Hub) reserveConnLocked(userID string) (*userState, bool) {
	u := h.users[userID]
	if u == nil {
		u = &userState{limiter: newTokenBucket(h.cfg.UserRatePerSecond, h.cfg.UserRateBurst, h.cfg.Now())}
		h.users[userID] = u
	}
	if u.conns >= h.cfg.MaxConnsPerUser {
		if u.conns == 0 {
			delete(h.users, userID)
		}
		return nil, false
	}
	u.conns++
	return u, true
}

// releaseConn undoes reserveConnLocked.
func (h *Hub) releaseConn(userID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if u := h.users[userID]; u != nil {
		u.conns--
		if u.conns <= 0 {
			delete(h.users, userID)
		}
	}
}

// PublishAccessChange announces an access change on a bus from a process
// that runs no hub (a media worker, the CLI), so every node re-checks the
// connections it concerns at once instead of at its next periodic check.
// node names the sender; it must differ from every hub's NodeID.
func PublishAccessChange(ctx context.Context, b Bus, node string, ch accounts.AccessChange) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return b.Publish(ctx, accessRoom, mustJSON(envelope{Node: node, Kind: kindAccess, Access: &ch}))
}
