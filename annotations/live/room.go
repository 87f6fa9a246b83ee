package live

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
)

// room is one clip's live room on this node.
//
// Locks: seqMu orders event ingestion and joins (it is held across log
// reads, so a joining client's replay and the live stream meet without a
// gap or a duplicate); mu guards the in-memory state and is never held
// across I/O. cmdMu serializes this node's sync commands. Order: cmdMu,
// then seqMu, then mu. Nothing is published on the bus while holding any.
type room struct {
	hub    *Hub
	clipID string
	refs   int // guarded by hub.mu

	ready   chan struct{}
	initErr error
	unsub   func()

	cmdMu sync.Mutex
	seqMu sync.Mutex

	mu      sync.Mutex
	closed  bool
	last    int64               // highest seq delivered
	ring    []annotations.Event // the last RingSize events, oldest first
	clients map[*client]struct{}
	remote  map[string]remoteMember // other nodes' members by conn_id
	sync    SyncState
}

type remoteMember struct {
	Member
	node string
	seen time.Time
}

func newRoom(h *Hub, clipID string) *room {
	return &room{
		hub:     h,
		clipID:  clipID,
		ready:   make(chan struct{}),
		clients: map[*client]struct{}{},
		remote:  map[string]remoteMember{},
	}
}

// load subscribes to the bus, then reads the log head and the last sync
// state. Subscribing first means an event committed in between arrives on
// the bus and waits on seqMu, to be delivered or dropped against the head.
func (r *room) load(ctx context.Context) error {
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	unsub, err := r.hub.bus.Subscribe(r.clipID, r.onBus)
	if err != nil {
		return fmt.Errorf("open room %s: %w", r.clipID, err)
	}
	head, err := r.hub.events.Head(ctx, r.clipID)
	if err != nil {
		unsub()
		return fmt.Errorf("open room %s: %w", r.clipID, err)
	}
	st, err := r.hub.synlog.last(ctx, r.clipID)
	if err != nil {
		unsub()
		return fmt.Errorf("open room %s: %w", r.clipID, err)
	}
	r.mu.Lock()
	r.unsub, r.last, r.sync = unsub, head, st
	r.mu.Unlock()
	r.hub.publish(ctx, r.clipID, envelope{Kind: kindRosterReq})
	return nil
}

func (r *room) close() {
	r.seqMu.Lock()
	r.mu.Lock()
	r.closed = true
	unsub := r.unsub
	r.mu.Unlock()
	r.seqMu.Unlock()
	if unsub != nil {
		unsub()
	}
}

// onBus handles a message from the bus. Own messages are dropped at once:
// this node delivered them locally already.
func (r *room) onBus(b []byte) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		r.hub.log.Warn("Dropped an unreadable bus message.", "clip_id", r.clipID, "error", err)
		return
	}
	if env.Node == r.hub.cfg.NodeID {
		return
	}
	ctx, cancel := context.WithTimeout(r.hub.ctx, 10*time.Second)
	defer cancel()
	switch env.Kind {
	case kindEvent:
		if env.Event != nil && env.Event.ClipID == r.clipID {
			r.ingest(ctx, env.Event.event())
		}
	case kindPresence:
		if env.Member != nil {
			r.remotePresence(env.Node, env.Op, *env.Member)
		}
	case kindRoster:
		r.remoteRoster(env.Node, env.Members)
	case kindRosterReq:
		r.announce(ctx)
	case kindRelay:
		r.broadcast(env.Payload, nil)
	case kindAccess:
		// Sent on the room as well as on accessRoom, so that it holds the
		// connections concerned before any later event of the same node
		// in this room reaches them.
		if env.Access != nil {
			r.hub.noteAccessChange(*env.Access)
		}
	}
}

// ingest delivers e in seq order: duplicates are dropped, and a gap is
// filled from the log first. If the log cannot be read, e waits: the next
// event or the repair loop fills the gap, so clients never see one.
func (r *room) ingest(ctx context.Context, e annotations.Event) {
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	r.mu.Lock()
	closed, last := r.closed, r.last
	r.mu.Unlock()
	if closed || e.Seq <= last {
		return
	}
	if e.Seq == last+1 {
		r.deliver(e)
		return
	}
	r.hub.stats.mu.Lock()
	r.hub.stats.gapReads++
	r.hub.stats.mu.Unlock()
	if err := r.catchUpLocked(ctx, e.Seq); err != nil {
		r.hub.log.Warn("Could not read missed events from the log.", "clip_id", r.clipID, "after", last, "error", err)
	}
}

// catchUpLocked reads and delivers the log after r.last up to seq upto (or
// to the head when upto is 0). seqMu must be held.
func (r *room) catchUpLocked(ctx context.Context, upto int64) error {
	for {
		r.mu.Lock()
		last := r.last
		r.mu.Unlock()
		if upto > 0 && last >= upto {
			return nil
		}
		limit := maxReplayLimit
		if upto > 0 && upto-last < int64(limit) {
			limit = int(upto - last)
		}
		evs, err := r.hub.events.Since(ctx, r.clipID, last, limit)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.Seq == last+1 {
				r.deliver(e)
				last = e.Seq
			}
		}
		if len(evs) < limit {
			return nil
		}
	}
}

// repair catches the room up with the log head.
func (r *room) repair(ctx context.Context) error {
	head, err := r.hub.events.Head(ctx, r.clipID)
	if err != nil {
		return err
	}
	r.seqMu.Lock()
	defer r.seqMu.Unlock()
	r.mu.Lock()
	behind := !r.closed && head > r.last
	r.mu.Unlock()
	if !behind {
		return nil
	}
	r.hub.stats.mu.Lock()
	r.hub.stats.repairReads++
	r.hub.stats.mu.Unlock()
	return r.catchUpLocked(ctx, head)
}

// deliver appends e to the ring, applies sync state and queues e to every
// member allowed to see it. seqMu must be held.
func (r *room) deliver(e annotations.Event) {
	msg := encodeEvent(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = e.Seq
	r.ring = append(r.ring, e)
	if n := len(r.ring) - r.hub.cfg.RingSize; n > 0 {
		// Copy down rather than reslice so the backing array does not
		// grow without bound.
		r.ring = append(r.ring[:0], r.ring[n:]...)
	}
	if isSyncEvent(e.Type) {
		if st, err := decodeSyncState(e.Data); err == nil {
			r.sync = st
		} else {
			r.hub.log.Warn("Ignored an unreadable sync event.", "clip_id", r.clipID, "seq", e.Seq, "error", err)
		}
	}
	n := int64(0)
	for c := range r.clients {
		if c.sees(e) {
			c.enqueue(msg)
			n++
		}
	}
	r.hub.stats.mu.Lock()
	r.hub.stats.delivered += n
	r.hub.stats.mu.Unlock()
}

// joinResult is what a new member receives before the live stream.
type joinResult struct {
	welcome []byte
	notice  []byte // an error message to send after welcome, if any
	replay  []annotations.Event
}

// join adds c to the room and returns its welcome and the events it missed
// after since (nil: none). Replay comes from the ring, or from the log when
// since is older than the ring; either way it ends exactly where the live
// stream starts, because the final step runs under seqMu.
func (r *room) join(ctx context.Context, c *client, since *int64) (joinResult, error) {
	var res joinResult
	var fromLog []annotations.Event
	var after int64
	if since != nil {
		after = *since
	}
	for {
		r.seqMu.Lock()
		r.mu.Lock()
		last := r.last
		first := last - int64(len(r.ring)) // the ring holds (first, last]
		r.mu.Unlock()
		if since != nil && after > last {
			// Another node may be ahead of us: catch up before judging.
			if err := r.catchUpLocked(ctx, 0); err != nil {
				r.seqMu.Unlock()
				return res, fmt.Errorf("join room %s: %w", r.clipID, err)
			}
			r.mu.Lock()
			last = r.last
			first = last - int64(len(r.ring))
			r.mu.Unlock()
			if after > last {
				res.notice = mustJSON(errorMsg{Type: "error", Code: "since_ahead",
					Message: fmt.Sprintf("since %d is beyond this room's last event %d; replaying nothing, continue from %d", after, last, last)})
				since, fromLog = nil, nil
			}
		}
		if since == nil || after >= first {
			r.mu.Lock()
			if since != nil {
				for _, e := range r.ring {
					if e.Seq > after {
						fromLog = append(fromLog, e)
					}
				}
			}
			res.welcome = r.addLocked(c, since, last)
			r.mu.Unlock()
			r.seqMu.Unlock()
			break
		}
		r.seqMu.Unlock()
		// Older than the ring: read the log without holding the room, then
		// take the rest from the ring on the next pass.
		if last-after > int64(r.hub.cfg.MaxReplay) {
			res.notice = mustJSON(errorMsg{Type: "error", Code: "replay_too_large",
				Message: fmt.Sprintf("%d events were missed, more than the %d a room replays; reload the annotations and continue from the head", last-after, r.hub.cfg.MaxReplay)})
			since, fromLog = nil, nil
			continue
		}
		for after < last {
			evs, err := r.hub.events.Since(ctx, r.clipID, after, maxReplayLimit)
			if err != nil {
				return res, fmt.Errorf("join room %s: %w", r.clipID, err)
			}
			if len(evs) == 0 {
				break
			}
			fromLog = append(fromLog, evs...)
			after = evs[len(evs)-1].Seq
		}
	}
	for _, e := range fromLog {
		if c.sees(e) {
			res.replay = append(res.replay, e)
		}
	}
	r.mu.Lock()
	m := c.member
	r.mu.Unlock()
	r.hub.publish(ctx, r.clipID, envelope{Kind: kindPresence, Op: "join", Member: &m})
	return res, nil
}

// addLocked registers c and builds its welcome; r.mu must be held.
func (r *room) addLocked(c *client, since *int64, head int64) []byte {
	c.member.JoinedAtMS = r.hub.cfg.Now().UnixMilli()
	r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "join", Member: c.member}), nil)
	r.clients[c] = struct{}{}
	var st *SyncState
	if r.sync.Active || r.sync.AtServerMS != 0 {
		s := r.sync
		st = &s
	}
	return mustJSON(welcomeMsg{
		Type: "welcome", V: ProtocolVersion, ConnID: c.member.ConnID, You: c.member,
		Head: head, Since: since, Members: r.membersLocked(), Sync: st,
		ServerMS: r.hub.cfg.Now().UnixMilli(), Limits: r.hub.limits(),
	})
}

// leave removes c, tells the others, and if c was the host's last
// connection anywhere, hands the session off after the grace period.
func (r *room) leave(c *client) {
	r.mu.Lock()
	_, was := r.clients[c]
	delete(r.clients, c)
	m := c.member
	if was {
		r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "leave", Member: m}), nil)
	}
	hostGone := r.sync.Active && r.sync.HostID == m.UserID && !r.userPresentLocked(m.UserID)
	r.mu.Unlock()
	if !was {
		return
	}
	r.hub.publish(r.hub.ctx, r.clipID, envelope{Kind: kindPresence, Op: "leave", Member: &m})
	if hostGone {
		// The room stays open during the grace period: its own reference
		// keeps it alive so that the hand-off sees who is present.
		r.hub.mu.Lock()
		r.refs++
		r.hub.mu.Unlock()
		r.hub.bg.Add(1)
		go func() {
			defer r.hub.bg.Done()
			defer r.hub.release(r)
			if r.hub.cfg.HostGrace > 0 {
				t := time.NewTimer(r.hub.cfg.HostGrace)
				defer t.Stop()
				select {
				case <-t.C:
				case <-r.hub.ctx.Done():
					return
				}
			}
			r.handOff(m.UserID)
		}()
	}
}

// handOff passes the session of an absent host to the member who may host
// and joined first, or ends it when nobody may.
func (r *room) handOff(hostID string) {
	ctx, cancel := context.WithTimeout(r.hub.ctx, 10*time.Second)
	defer cancel()
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	r.mu.Lock()
	st := r.sync
	if !st.Active || st.HostID != hostID || r.userPresentLocked(hostID) {
		r.mu.Unlock()
		return
	}
	var next *Member
	for _, m := range r.membersLocked() {
		if m.CanHost && m.UserID != hostID {
			next = &m
			break
		}
	}
	r.mu.Unlock()
	now := r.hub.cfg.Now().UnixMilli()
	typ, ns := EventSyncEnd, endedState(st, now, hostID)
	if next != nil {
		ns = st
		ns.HostID, ns.HostName, ns.By = next.UserID, next.Name, hostID
		ns.PositionMS, ns.AtServerMS = st.Target(float64(now)), now
		typ = EventSyncHost
	}
	if _, err := r.hub.appendAndPublish(ctx, annotations.Event{ClipID: r.clipID, Type: typ, ActorID: hostID, Data: mustJSON(ns)}); err != nil {
		r.hub.log.Error("Could not hand off a sync session.", "clip_id", r.clipID, "error", err)
	}
}

// appendAndPublish stores a room event in the log and delivers it.
func (h *Hub) appendAndPublish(ctx context.Context, e annotations.Event) (annotations.Event, error) {
	e, err := h.events.Append(ctx, e)
	if err != nil {
		return e, err
	}
	h.Publish(ctx, e)
	return e, nil
}

// membersLocked lists local and remote members, earliest joined first.
func (r *room) membersLocked() []Member {
	out := make([]Member, 0, len(r.clients)+len(r.remote))
	for c := range r.clients {
		out = append(out, c.member)
	}
	for _, m := range r.remote {
		out = append(out, m.Member)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].JoinedAtMS != out[j].JoinedAtMS {
			return out[i].JoinedAtMS < out[j].JoinedAtMS
		}
		return out[i].ConnID < out[j].ConnID
	})
	return out
}

// hostPresentLocked reports whether the host is present and still allowed
// to host: a host who lost the right (a role change, re-checked) no longer
// holds the session against members who may take it over.
func (r *room) hostPresentLocked(userID string) bool {
	for c := range r.clients {
		if c.member.UserID == userID && c.member.CanHost {
			return true
		}
	}
	for _, m := range r.remote {
		if m.UserID == userID && m.CanHost {
			return true
		}
	}
	return false
}

// concerns reports whether an access change may concern a member of the
// room, here or on another node.
func (r *room) concerns(ch accounts.AccessChange) bool {
	if ch.ClipID != "" {
		return ch.ClipID == r.clipID
	}
	if ch.UserID == "" {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.closed && r.userPresentLocked(ch.UserID)
}

func (r *room) userPresentLocked(userID string) bool {
	for c := range r.clients {
		if c.member.UserID == userID {
			return true
		}
	}
	for _, m := range r.remote {
		if m.UserID == userID {
			return true
		}
	}
	return false
}

// broadcastLocked queues msg to every local member but except.
func (r *room) broadcastLocked(msg []byte, except *client) {
	for c := range r.clients {
		if c != except {
			c.enqueue(msg)
		}
	}
}

func (r *room) broadcast(msg []byte, except *client) {
	if len(msg) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.broadcastLocked(msg, except)
}

// update changes a local member's presence and tells everyone.
func (r *room) update(c *client, fn func(m *Member)) {
	r.mu.Lock()
	fn(&c.member)
	m := c.member
	r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "update", Member: m}), c)
	r.mu.Unlock()
	r.hub.publish(r.hub.ctx, r.clipID, envelope{Kind: kindPresence, Op: "update", Member: &m})
}

// relay sends an encoded message to every member here and on other nodes.
func (r *room) relay(msg []byte, except *client) {
	r.broadcast(msg, except)
	r.hub.publish(r.hub.ctx, r.clipID, envelope{Kind: kindRelay, Payload: msg})
}

func (r *room) remotePresence(node, op string, m Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	switch op {
	case "join", "update":
		r.remote[m.ConnID] = remoteMember{Member: m, node: node, seen: r.hub.cfg.Now()}
	case "leave":
		if _, ok := r.remote[m.ConnID]; !ok {
			return
		}
		delete(r.remote, m.ConnID)
	default:
		return
	}
	r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: op, Member: m}), nil)
}

// remoteRoster replaces what we know of node's members with its roster.
func (r *room) remoteRoster(node string, members []Member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	now := r.hub.cfg.Now()
	in := map[string]bool{}
	for _, m := range members {
		in[m.ConnID] = true
		old, known := r.remote[m.ConnID]
		r.remote[m.ConnID] = remoteMember{Member: m, node: node, seen: now}
		if !known {
			r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "join", Member: m}), nil)
		} else if old.Member != m {
			r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "update", Member: m}), nil)
		}
	}
	for conn, m := range r.remote {
		if m.node == node && !in[conn] {
			delete(r.remote, conn)
			r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "leave", Member: m.Member}), nil)
		}
	}
}

// announce publishes this node's members of the room.
func (r *room) announce(ctx context.Context) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	members := make([]Member, 0, len(r.clients))
	for c := range r.clients {
		members = append(members, c.member)
	}
	r.mu.Unlock()
	r.hub.publish(ctx, r.clipID, envelope{Kind: kindRoster, Members: members})
}

// expireRemote forgets members of nodes that stopped announcing them (a
// node that crashed cannot say goodbye).
func (r *room) expireRemote(after time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := r.hub.cfg.Now().Add(-after)
	for conn, m := range r.remote {
		if m.seen.Before(cutoff) {
			delete(r.remote, conn)
			r.broadcastLocked(mustJSON(presenceMsg{Type: "presence", Op: "leave", Member: m.Member}), nil)
		}
	}
}

func (h *Hub) limits() Limits {
	return Limits{
		MaxMessageBytes: h.cfg.MaxMessageBytes, RatePerSecond: h.cfg.RatePerSecond, RateBurst: h.cfg.RateBurst,
		SendQueue: h.cfg.SendQueue, RingSize: h.cfg.RingSize, MaxReplay: h.cfg.MaxReplay,
		UserRatePerSecond: h.cfg.UserRatePerSecond, UserRateBurst: h.cfg.UserRateBurst, MaxConnsPerUser: h.cfg.MaxConnsPerUser,
	}
}
