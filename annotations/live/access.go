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
// keep access get their can_annotate/can_host updated. It never blocks:
// the work happens on the hub's access loop. The server wires it as the
// accounts service's OnAccessChange hook.
func (h *Hub) AccessChanged(ctx context.Context, ch accounts.AccessChange) {
	h.noteAccessChange(ch)
	h.publishOn(ctx, accessRoom, envelope{Kind: kindAccess, Access: &ch})
}

// noteAccessChange queues a change for this node's access loop.
func (h *Hub) noteAccessChange(ch accounts.AccessChange) {
	h.accessGen.Add(1)
	select {
	case h.checks <- ch:
	default:
		// A burst of changes: re-check everyone once instead.
		h.checkAll.Store(true)
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

// accessLoop re-checks the connections each change concerns, and every
// connection each AccessCheckInterval: a change that bypassed
// AccessChanged (an edit in the database, a lost bus message, a node that
// was cut off from the bus) takes effect within that interval.
func (h *Hub) accessLoop() {
	defer h.bg.Done()
	t := time.NewTicker(h.cfg.AccessCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case ch := <-h.checks:
			h.recheck(ch)
		case <-t.C:
			h.recheck(accounts.AccessChange{})
		}
		if h.checkAll.Swap(false) {
			h.recheck(accounts.AccessChange{})
		}
	}
}

// recheck re-authorizes the connections on this node that ch concerns. A
// change naming only a group concerns every connection: which clips a
// group opens is the policy's business, not the hub's.
func (h *Hub) recheck(ch accounts.AccessChange) {
	h.mu.Lock()
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		if (ch.UserID == "" || c.actor.UserID == ch.UserID) && (ch.ClipID == "" || c.clipID == ch.ClipID) {
			cs = append(cs, c)
		}
	}
	h.mu.Unlock()
	for _, c := range cs {
		if h.ctx.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
		c.recheck(ctx)
		cancel()
	}
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
// and can_host updated (and announced) when they changed. A check that
// cannot be made (the database is down) changes nothing; the next
// periodic re-check tries again.
func (c *client) recheck(ctx context.Context) {
	v, err := c.check(ctx, accounts.ClipView)
	if c.enforce(v) {
		c.hub.log.Info("Closed a live connection that lost access.", "clip_id", c.clipID, "user_id", c.actor.UserID, "reason", err)
		return
	}
	if v == unknown {
		c.hub.log.Warn("Could not re-check a live connection's access.", "clip_id", c.clipID, "user_id", c.actor.UserID, "error", err)
		return
	}
	r := c.joinedRoom()
	if r == nil {
		return // not joined yet: its caps are set at join from the handler's check
	}
	annotate, host := c.caps()
	if v, _ := c.check(ctx, accounts.ClipAnnotate); v == allowed || v == forbidden {
		annotate = v == allowed
	}
	if v, _ := c.check(ctx, accounts.ClipHost); v == allowed || v == forbidden {
		host = v == allowed
	}
	c.setCaps(annotate, host)
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
