package live_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// freezer is a TCP proxy that can stop forwarding without closing
// anything: to the server, the client behind it has vanished (a laptop
// lid closed, a network gone) — no close frame, no FIN, no pong.
type freezer struct {
	ln     net.Listener
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			f.mu.Lock()
			f.conns = append(f.conns, in, out)
			f.mu.Unlock()
			go f.pipe(in, out)
			go f.pipe(out, in)
		}
	}()
	return f
}

// pipe forwards src to dst until frozen; from then on it reads and drops
// what arrives (so the sender's writes still succeed) and never closes.
func (f *freezer) pipe(src, dst net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		if f.frozen.Load() {
			continue
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// TestVanishedClientDropped: a client that vanishes without closing is
// dropped within the heartbeat window (a ping every PingInterval, silence
// for PongWait), and the room tells the others it left.
func TestVanishedClientDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{PingInterval: 50 * time.Millisecond, PongWait: 300 * time.Millisecond})
	n := e.nodes[0]
	o := join(t, n, e.clip, owner, nil)
	f := newFreezer(t, strings.TrimPrefix(n.srv.URL, "http://"))
	h := http.Header{"X-Test-User": []string{peer}}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+f.ln.Addr().String()+"/api/clips/"+e.clip+"/live", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.WriteJSON(map[string]any{"type": "hello", "v": 1}); err != nil {
		t.Fatal(err)
	}
	var welcome msg
	if err := conn.ReadJSON(&welcome); err != nil || welcome.typ() != "welcome" {
		t.Fatalf("welcome: %v %v", welcome, err)
	}
	// The client keeps reading (and answering pings) through the proxy
	// until the proxy freezes; then its pongs no longer arrive.
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if j := o.until(isType("presence")); j.str("op") != "join" || j.obj("member").str("user_id") != peer {
		t.Fatalf("owner saw %v", j)
	}
	f.frozen.Store(true)
	left := o.until(func(m msg) bool { return m.typ() == "presence" && m.str("op") == "leave" })
	if left.obj("member").str("user_id") != peer {
		t.Fatalf("owner saw %v", left)
	}
	eventually(func() bool { return n.hub.Stats().Clients == 1 })
	if got := len(n.hub.RoomMembers(e.clip)); got != 1 {
		t.Fatalf("room has %d members after the vanished client was dropped", got)
	}
}

// TestNATSOutage stops a private NATS server under two nodes that share
// one database, and starts it again: meanwhile each node's rooms keep
// working (a room even opens), afterwards delivery between the nodes
// resumes over the bus, and a client that resumes with its last seq
// receives exactly what it missed, in order.
func TestNATSOutage(t *testing.T) {
	t.Parallel()
	ns := testsvc.StartNATS(t)
	db := databases(false)[0].Open(t)
	az, clip := seed(t, db)
	e := &env{db: db, az: az, clip: clip}
	var buses [2]*bus.NATS
	for i := range buses {
		b, err := bus.ConnectNATS(ns.URL, "outage-node-"+string(rune('A'+i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		buses[i] = b
	}
	// No periodic repair: after the outage only the bus can bring B's
	// events to A.
	cfg := live.Config{RepairInterval: time.Hour, AccessCheckInterval: time.Hour}
	cfg.NodeID = "A"
	na := e.addNode(t, cfg, buses[0])
	cfg.NodeID = "B"
	nb := e.addNode(t, cfg, buses[1])

	a := join(t, na, clip, peer, nil)
	b := join(t, nb, clip, owner, nil)
	resumer := join(t, nb, clip, coach, nil)
	eventually(func() bool { return len(na.hub.RoomMembers(clip)) == 3 && len(nb.hub.RoomMembers(clip)) == 3 })
	create := func(c *wsClient, text string) int64 {
		t.Helper()
		ref := id.New()
		c.send(map[string]any{"type": "annotation.create", "ref": ref, "body": map[string]any{"text": text}})
		m := c.until(func(m msg) bool { return m.str("ref") == ref })
		if m.typ() != "ack" {
			t.Fatalf("create %q: %v", text, m)
		}
		return m.num("seq")
	}
	seqOf := func(c *wsClient, seq int64) msg {
		t.Helper()
		return c.until(func(m msg) bool { return m.typ() == "event" && m.num("seq") >= seq })
	}
	s1 := create(b, "before")
	if m := seqOf(a, s1); m.num("seq") != s1 {
		t.Fatalf("A got %v", m)
	}
	if m := seqOf(resumer, s1); m.num("seq") != s1 {
		t.Fatalf("resumer got %v", m)
	}
	resumer.conn.Close()

	ns.Stop()
	eventually(func() bool { return !buses[0].Connected() && !buses[1].Connected() })
	// Each node's room works on its own.
	s2 := create(a, "during, on A")
	s3 := create(b, "during, on B")
	if s2 != s1+1 || s3 != s2+1 {
		t.Fatalf("seqs %d %d %d", s1, s2, s3)
	}
	// A room opens while the bus is away (a clip nobody had open).
	clip2 := id.New()
	if _, err := db.Writer().Exec(context.Background(), `INSERT INTO clips (id, owner_id, title, status, created_at, updated_at) VALUES (?, ?, 'Second', 'ready', 0, 0)`, clip2, owner); err != nil {
		t.Fatal(err)
	}
	az.mu.Lock()
	az.clips[clip2] = accounts.ClipAccess{OwnerID: owner}
	az.mu.Unlock()
	other := join(t, na, clip2, owner, nil)
	other.pingPong()

	ns.Start()
	eventually(func() bool { return buses[0].Connected() && buses[1].Connected() })
	// B's events reach A over the bus again (nothing else brings them:
	// the periodic repair is an hour away), and A's client sees every seq
	// once, in order: B's outage event first, filled from the log if its
	// bus message was lost. Until both connections have re-registered
	// their interest, a message may still be lost, so B writes again each
	// second until A hears one written after the restart.
	evs := make(chan msg, 64)
	go func() {
		defer close(evs)
		for {
			m, err := a.read()
			if err != nil {
				return
			}
			if m.typ() == "event" {
				evs <- m
			}
		}
	}()
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	got, last := s2, create(b, "after")
	for got < last {
		select {
		case m, ok := <-evs:
			if !ok {
				t.Fatal("A's socket ended")
			}
			if m.num("seq") != got+1 {
				t.Fatalf("A got seq %d after %d: a gap or a duplicate", m.num("seq"), got)
			}
			got = m.num("seq")
		case <-retry.C:
			last = create(b, "after, again")
		}
	}
	// The client that left during the outage resumes with its last seq.
	rc := join(t, nb, clip, coach, ptr(s1))
	for want := s1 + 1; want <= last; want++ {
		m := rc.until(isEvent(""))
		if m.num("seq") != want {
			t.Fatalf("resume got seq %d, want %d", m.num("seq"), want)
		}
	}
}
