package live_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations/live"
)

// pingPong proves a connection still works.
func (c *wsClient) pingPong() {
	c.t.Helper()
	c.send(map[string]any{"type": "ping", "t": 7})
	c.until(isType("pong"))
}

// TestAccessChangeReachesEveryNode: an access change raised on node A closes
// the sockets that lost access on node B too (the change travels on the
// bus), with 4403; the sockets that kept access stay open. The periodic
// re-check is an hour away, so only the notification can do it.
func TestAccessChangeReachesEveryNode(t *testing.T) {
	t.Parallel()
	for _, bp := range busPairs() {
		t.Run(bp.name, func(t *testing.T) {
			t.Parallel()
			db := databases(false)[0].Open(t)
			az, clip := seed(t, db)
			e := &env{db: db, az: az, clip: clip}
			ba, bb := bp.make(t)
			cfg := live.Config{AccessCheckInterval: time.Hour, RepairInterval: time.Hour}
			cfg.NodeID = "A"
			na := e.addNode(t, cfg, ba)
			cfg.NodeID = "B"
			nb := e.addNode(t, cfg, bb)

			o := join(t, na, clip, owner, nil)
			p := join(t, nb, clip, peer, nil)
			p2 := join(t, nb, clip, peer2, nil)
			// A knows B's members, so it announces the change on the room
			// too, ahead of its next event there.
			eventually(func() bool { return len(na.hub.RoomMembers(clip)) == 3 })

			// The peer leaves the group; the change is raised on A.
			az.removeFromGroup(peer)
			na.hub.AccessChanged(context.Background(), accounts.AccessChange{UserID: peer, GroupID: group})
			restCreate(t, na, clip, owner, "after the change", false)
			for {
				m, err := p.read()
				if err != nil {
					break
				}
				if m.typ() == "event" {
					t.Fatalf("the removed peer still receives events: %v", m)
				}
			}
			if code := p.closeCode(); code != live.CloseAccessRevoked {
				t.Fatalf("removed peer closed with %d, want %d", code, live.CloseAccessRevoked)
			}
			p2.pingPong()
			o.pingPong()

			// The clip is unshared with the group: a clip-wide change.
			az.mu.Lock()
			az.clips[clip] = accounts.ClipAccess{OwnerID: owner, UserIDs: []string{coach}}
			az.mu.Unlock()
			nb.hub.AccessChanged(context.Background(), accounts.AccessChange{ClipID: clip})
			if code := p2.closeCode(); code != live.CloseAccessRevoked {
				t.Fatalf("unshared peer closed with %d", code)
			}
			o.pingPong()
		})
	}
}

// TestPeriodicAccessRecheck: a change that raised no notification (made
// straight in the database, say) still closes the socket at the next
// periodic re-check.
func TestPeriodicAccessRecheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{AccessCheckInterval: 20 * time.Millisecond})
	n := e.nodes[0]
	p := join(t, n, e.clip, peer, nil)
	o := join(t, n, e.clip, owner, nil)
	e.az.removeFromGroup(peer)
	if code := p.closeCode(); code != live.CloseAccessRevoked {
		t.Fatalf("closed with %d, want %d", code, live.CloseAccessRevoked)
	}
	o.pingPong()
}

// TestCapsFollowAccess: a re-check that finds the right to host gone (a
// coach of the audience group made a peer) keeps the socket, tells the room
// (presence update with can_host false), and the member no longer holds
// the session: another member who may host takes it over.
func TestCapsFollowAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{AccessCheckInterval: time.Hour})
	n := e.nodes[0]
	e.az.mu.Lock()
	e.az.clips[e.clip] = accounts.ClipAccess{OwnerID: owner, GroupIDs: []string{group}}
	e.az.mu.Unlock()
	e.az.setRole(coach, accounts.RoleCoach)
	c := join(t, n, e.clip, coach, nil)
	if !c.welcome.obj("you")["can_host"].(bool) {
		t.Fatalf("coach of the group may not host: %v", c.welcome)
	}
	o := join(t, n, e.clip, owner, nil)
	c.send(map[string]any{"type": "sync.start", "ref": "s1"})
	o.until(isEvent("sync.start"))
	o.send(map[string]any{"type": "sync.take", "ref": "t0"})
	if m := o.until(func(m msg) bool { return m.str("ref") == "t0" }); m.str("code") != "session_active" {
		t.Fatalf("take-over from a present host: %v", m)
	}

	e.az.setRole(coach, accounts.RolePeer)
	n.hub.AccessChanged(context.Background(), accounts.AccessChange{UserID: coach, GroupID: group})
	upd := o.until(func(m msg) bool {
		return m.typ() == "presence" && m.str("op") == "update" && m.obj("member").str("user_id") == coach
	})
	if upd.obj("member")["can_host"].(bool) || !upd.obj("member")["can_annotate"].(bool) {
		t.Fatalf("coach made a peer: %v", upd)
	}
	c.pingPong()
	o.send(map[string]any{"type": "sync.take", "ref": "t1"})
	if m := o.until(func(m msg) bool { return m.str("ref") == "t1" }); m.typ() != "ack" {
		t.Fatalf("owner's take-over: %v", m)
	}
}

// TestConnectionsPerUserCapped: one user may open MaxConnsPerUser sockets
// on a node; one more is refused before the upgrade with 429, others are
// not affected, and closing one makes room again.
func TestConnectionsPerUserCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{MaxConnsPerUser: 3})
	n := e.nodes[0]
	var cs []*wsClient
	for i := 0; i < 3; i++ {
		cs = append(cs, join(t, n, e.clip, peer, nil))
	}
	conn, res, err := dial(t, n, e.clip, peer, "")
	if err == nil {
		conn.Close()
		t.Fatal("a fourth socket of one user was accepted")
	}
	if res == nil || res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth socket: %v %v", res, err)
	}
	body := make([]byte, 512)
	k, _ := res.Body.Read(body)
	if !strings.Contains(string(body[:k]), "too_many_connections") {
		t.Fatalf("refusal body %q", body[:k])
	}
	join(t, n, e.clip, owner, nil).pingPong()
	cs[0].conn.Close()
	eventually(func() bool { return len(n.hub.RoomMembers(e.clip)) == 3 })
	join(t, n, e.clip, peer, nil).pingPong()
}

// TestUserRateAcrossSockets: the message budget is per user across their
// sockets, so a second socket does not double it. The clock stands still,
// so no budget refills during the test.
func TestUserRateAcrossSockets(t *testing.T) {
	t.Parallel()
	now := time.Unix(1763917200, 0)
	e := newEnv(t, databases(false)[0], live.Config{
		RatePerSecond: 20, RateBurst: 40, UserRatePerSecond: 1, UserRateBurst: 10,
		Now: func() time.Time { return now },
	})
	n := e.nodes[0]
	a := join(t, n, e.clip, peer, nil)
	b := join(t, n, e.clip, peer, nil)
	for i := 0; i < 8; i++ {
		a.send(map[string]any{"type": "ping", "t": i})
	}
	for i := 0; i < 8; i++ {
		a.until(isType("pong"))
	}
	for i := 0; i < 8; i++ {
		b.send(map[string]any{"type": "ping", "t": i})
	}
	var got []string
	for len(got) < 3 {
		m := b.next()
		switch m.typ() {
		case "pong":
			got = append(got, "pong")
		case "error":
			got = append(got, m.str("code"))
			if !strings.Contains(m.str("message"), "your connections together") {
				t.Errorf("error message %q", m.str("message"))
			}
		}
	}
	if strings.Join(got, ",") != "pong,pong,rate_limited" {
		t.Fatalf("second socket got %v; want the user's remaining 2 messages, then rate_limited", got)
	}
	// Another user's budget is their own.
	join(t, n, e.clip, owner, nil).pingPong()
}

// TestPublishAccessChangeFromWorker: a process without a hub (a worker, the
// CLI) announces an access change; a serve node closes the socket at once.
func TestPublishAccessChangeFromWorker(t *testing.T) {
	t.Parallel()
	for _, bp := range busPairs() {
		t.Run(bp.name, func(t *testing.T) {
			t.Parallel()
			db := databases(false)[0].Open(t)
			az, clip := seed(t, db)
			e := &env{db: db, az: az, clip: clip}
			nodeBus, workerBus := bp.make(t)
			n := e.addNode(t, live.Config{NodeID: "A", AccessCheckInterval: time.Hour}, nodeBus)
			p := join(t, n, clip, peer, nil)
			az.removeFromGroup(peer)
			if err := live.PublishAccessChange(context.Background(), workerBus, "worker-1", accounts.AccessChange{UserID: peer}); err != nil {
				t.Fatal(err)
			}
			if code := p.closeCode(); code != live.CloseAccessRevoked {
				t.Fatalf("closed with %d", code)
			}
		})
	}
}
