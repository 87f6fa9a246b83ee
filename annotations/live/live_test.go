package live_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
)

func actor(u string) accounts.Actor { return accounts.Actor{UserID: u, Name: names[u]} }

// restCreate stands in for the REST API: the service creates and publishes.
func restCreate(t testing.TB, n *node, clip, user, text string, private bool) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"text": text, "private": private})
	if _, err := n.store.Create(context.Background(), actor(user), clip, body); err != nil {
		t.Fatal(err)
	}
}

func TestJoinLeavePresence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{})
	n := e.nodes[0]
	a := join(t, n, e.clip, owner, nil)
	if a.welcome.num("v") != 1 || a.welcome.obj("you").str("user_id") != owner || a.welcome.obj("you").str("name") != names[owner] {
		t.Fatalf("welcome = %v", a.welcome)
	}
	if !a.welcome.obj("you")["can_host"].(bool) {
		t.Fatal("the owner may host")
	}
	b := join(t, n, e.clip, peer, nil)
	if you := b.welcome.obj("you"); you["can_host"].(bool) || !you["can_annotate"].(bool) {
		t.Fatalf("a peer may annotate but not host: %v", you)
	}
	if ms := b.welcome["members"].([]any); len(ms) != 2 {
		t.Fatalf("welcome lists %d members, want 2", len(ms))
	}
	j := a.until(isType("presence"))
	if j.str("op") != "join" || j.obj("member").str("user_id") != peer {
		t.Fatalf("presence = %v", j)
	}
	b.send(map[string]any{"type": "playhead", "position_ms": 1200, "playing": true})
	u := a.until(isType("presence"))
	if u.str("op") != "update" || u.obj("member").num("playhead_ms") != 1200 {
		t.Fatalf("presence update = %v", u)
	}
	b.send(map[string]any{"type": "typing", "typing": true})
	if u := a.until(isType("presence")); !u.obj("member")["typing"].(bool) {
		t.Fatalf("typing update = %v", u)
	}
	b.conn.Close()
	l := a.until(isType("presence"))
	if l.str("op") != "leave" || l.obj("member").str("user_id") != peer {
		t.Fatalf("presence = %v", l)
	}
	eventually(func() bool { return len(n.hub.RoomMembers(e.clip)) == 1 })
	a.conn.Close()
	eventually(func() bool { return n.hub.Stats().Rooms == 0 })
}

// TestAnnotationsReachEveryoneInSeqOrder mixes socket and REST changes from
// several writers and checks every client sees one gap-free order.
func TestAnnotationsReachEveryoneInSeqOrder(t *testing.T) {
	t.Parallel()
	for _, d := range databases(true) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d, live.Config{})
			n := e.nodes[0]
			watchers := []*wsClient{join(t, n, e.clip, owner, nil), join(t, n, e.clip, coach, nil), join(t, n, e.clip, peer, nil)}
			const perWriter = 10
			var wg sync.WaitGroup
			acks := make(chan msg, 2*perWriter)
			for _, w := range watchers[1:] {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < perWriter; i++ {
						w.send(map[string]any{"type": "annotation.create", "ref": fmt.Sprintf("%s-%d", w.user, i),
							"body": map[string]any{"text": "note", "start_ms": i * 1000, "idempotency_key": fmt.Sprintf("%s-%d", w.user, i)}})
					}
				}()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					restCreate(t, n, e.clip, owner, "rest", false)
				}
			}()
			wg.Wait()
			const total = 3 * perWriter
			acked := map[string]int{}
			for _, w := range watchers {
				var seqs []int64
				for len(seqs) < total {
					m := w.next()
					switch m.typ() {
					case "event":
						seqs = append(seqs, m.num("seq"))
					case "ack":
						acks <- m
						acked[w.user]++
					case "error":
						t.Fatalf("%s got %v", w.user, m)
					}
				}
				for i, s := range seqs {
					if s != int64(i+1) {
						t.Fatalf("%s: event %d has seq %d; order %v", w.user, i, s, seqs)
					}
				}
			}
			// Every socket create was acked with the seq of its event (the
			// acks may trail the last events a little).
			for _, w := range watchers[1:] {
				for acked[w.user] < perWriter {
					if m := w.next(); m.typ() == "ack" {
						acks <- m
						acked[w.user]++
					}
				}
			}
			seen := map[int64]bool{}
			for len(acks) > 0 {
				a := <-acks
				if a.num("seq") < 1 || a.num("seq") > total || seen[a.num("seq")] || a.obj("data").str("id") == "" {
					t.Fatalf("bad ack %v", a)
				}
				seen[a.num("seq")] = true
			}
		})
	}
}

func TestIdempotentCreateAndErrorsCarryRef(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{})
	c := join(t, e.nodes[0], e.clip, peer, nil)
	body := map[string]any{"text": "once", "idempotency_key": "k1"}
	c.send(map[string]any{"type": "annotation.create", "ref": "a", "body": body})
	ev := c.until(isEvent("annotation.created"))
	ack := c.until(isType("ack"))
	c.send(map[string]any{"type": "annotation.create", "ref": "b", "body": body})
	again := c.until(isType("ack"))
	if again.str("ref") != "b" || again.obj("data").str("id") != ack.obj("data").str("id") || again.num("seq") != 0 {
		t.Fatalf("retry ack = %v, first = %v", again, ack)
	}
	if ack.num("seq") != ev.num("seq") {
		t.Fatalf("ack seq %d, event seq %d", ack.num("seq"), ev.num("seq"))
	}
	c.send(map[string]any{"type": "annotation.create", "ref": "c", "body": map[string]any{"text": ""}})
	if m := c.until(isType("error")); m.str("ref") != "c" || m.str("code") != "invalid_input" {
		t.Fatalf("error = %v", m)
	}
	c.send(map[string]any{"type": "annotation.update", "ref": "d", "id": ack.obj("data").str("id"), "body": map[string]any{"text": "edited"}})
	if m := c.until(isEvent("")); m.str("event") != annotations.EventAnnotationUpdated || m.obj("data").str("text") != "edited" {
		t.Fatalf("update event = %v", m)
	}
	c.send(map[string]any{"type": "annotation.delete", "ref": "e", "id": "nope"})
	if m := c.until(isType("error")); m.str("ref") != "e" || m.str("code") != "not_found" {
		t.Fatalf("error = %v", m)
	}
}

// TestReplay reconnects with since and expects exactly the missed events:
// from the ring, from the log when the ring is too short, private events
// only for their author, nothing twice.
func TestReplay(t *testing.T) {
	t.Parallel()
	for _, d := range databases(true) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d, live.Config{RingSize: 4})
			n := e.nodes[0]
			keep := join(t, n, e.clip, owner, nil) // keeps the room (and its ring) alive
			for i := 0; i < 3; i++ {
				restCreate(t, n, e.clip, owner, fmt.Sprint("a", i), false)
			}
			restCreate(t, n, e.clip, peer, "private to peer", true) // seq 4
			for i := 0; i < 6; i++ {
				restCreate(t, n, e.clip, owner, fmt.Sprint("b", i), false) // seq 5..10
			}
			keep.until(func(m msg) bool { return m.typ() == "event" && m.num("seq") == 10 })
			cases := []struct {
				name  string
				user  string
				since int64
				want  []int64
			}{
				{"from the ring", owner, 7, []int64{8, 9, 10}},
				{"ring edge", owner, 6, []int64{7, 8, 9, 10}},
				{"from the log, then the ring", owner, 1, []int64{2, 3, 5, 6, 7, 8, 9, 10}},
				{"from zero", owner, 0, []int64{1, 2, 3, 5, 6, 7, 8, 9, 10}},
				{"private event for its author", peer, 2, []int64{3, 4, 5, 6, 7, 8, 9, 10}},
				{"nothing missed", owner, 10, nil},
			}
			for _, tc := range cases {
				c := join(t, n, e.clip, tc.user, ptr(tc.since))
				if c.welcome.num("head") < 10 || c.welcome.num("since") != tc.since {
					t.Fatalf("%s: welcome = %v", tc.name, c.welcome)
				}
				// A marker event after the replay shows where it ends;
				// earlier cases' markers are left out.
				restCreate(t, n, e.clip, owner, "marker "+tc.name, false)
				var got []int64
				for {
					m := c.until(isEvent(""))
					text := m.obj("data").str("text")
					if text == "marker "+tc.name {
						break
					}
					if !strings.HasPrefix(text, "marker") {
						got = append(got, m.num("seq"))
					}
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("%s: replayed %v, want %v", tc.name, got, tc.want)
				}
				c.conn.Close()
			}
		})
	}
}

// TestDroppedConnectionsDuringBurst cuts connections at random while
// annotations pour in; every client resumes with since and must end with
// exactly the server's event set, in order, nothing twice.
func TestDroppedConnectionsDuringBurst(t *testing.T) {
	t.Parallel()
	for _, d := range databases(true) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d, live.Config{RingSize: 16})
			n := e.nodes[0]
			const burst = 120
			users := []string{owner, coach, peer, peer2}
			done := make(chan struct{})
			results := make([][]int64, len(users))
			var readers sync.WaitGroup
			for i, u := range users {
				readers.Add(1)
				go func() {
					defer readers.Done()
					rng := rand.New(rand.NewPCG(uint64(i), 7))
					var got []int64
					var last int64
					finalHead := int64(-1)
					for {
						var c *wsClient
						if last == 0 && len(got) == 0 {
							c = join(t, n, e.clip, u, ptr(int64(0)))
						} else {
							c = join(t, n, e.clip, u, ptr(last))
						}
						drop := rng.IntN(25) + 1
						for k := 0; ; k++ {
							if finalHead >= 0 && last >= finalHead {
								c.conn.Close()
								results[i] = got
								return
							}
							if k == drop {
								c.conn.UnderlyingConn().Close() // a flaky network, no close frame
								break
							}
							m, err := c.read()
							if err != nil {
								break
							}
							if m.typ() == "event" {
								s := m.num("seq")
								if s <= last {
									t.Errorf("%s: seq %d after %d", u, s, last)
								}
								got = append(got, s)
								last = s
							}
							if finalHead < 0 {
								select {
								case <-done:
									h, _ := annotations.NewEventLog(e.db).Head(context.Background(), e.clip)
									finalHead = lastVisible(t, e, u, h)
								default:
								}
							}
						}
					}
				}()
			}
			var writers sync.WaitGroup
			for w, u := range []string{owner, peer} {
				writers.Add(1)
				go func() {
					defer writers.Done()
					for i := 0; i < burst/2; i++ {
						restCreate(t, n, e.clip, u, "burst", (i+w)%7 == 0)
					}
				}()
			}
			writers.Wait()
			close(done)
			// Readers that are idle between events need one more event to
			// notice the end; a last public marker gives it to them.
			restCreate(t, n, e.clip, owner, "end", false)
			readers.Wait()
			for i, u := range users {
				want := visibleSeqs(t, e, u)
				got := results[i]
				if len(got) > 0 && got[len(got)-1] > want[len(want)-1] {
					got = got[:len(got)-1]
				}
				if fmt.Sprint(trimTo(got, want)) != fmt.Sprint(want) {
					t.Errorf("%s got %d events %v\nwant %d %v", u, len(got), got, len(want), want)
				}
			}
		})
	}
}

// trimTo cuts got after want's last seq (the end marker may or may not
// have been read).
func trimTo(got, want []int64) []int64 {
	if len(want) == 0 {
		return got
	}
	for i, s := range got {
		if s > want[len(want)-1] {
			return got[:i]
		}
	}
	return got
}

// visibleSeqs lists the seqs a user may see, from the log.
func visibleSeqs(t testing.TB, e *env, user string) []int64 {
	t.Helper()
	evs, err := annotations.NewEventLog(e.db).Since(context.Background(), e.clip, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, ev := range evs {
		if ev.VisibleTo(user) && ev.Data != nil && !strings.Contains(string(ev.Data), `"text":"end"`) {
			out = append(out, ev.Seq)
		}
	}
	return out
}

// lastVisible is the highest seq ≤ head the user may see.
func lastVisible(t testing.TB, e *env, user string, head int64) int64 {
	s := visibleSeqs(t, e, user)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] <= head {
			return s[i]
		}
	}
	return 0
}

func TestRefusedBeforeUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{AllowedOrigins: []string{"https://app.example.org"}})
	n := e.nodes[0]
	cases := []struct {
		name   string
		user   string
		clip   string
		origin string
		query  string
		status int
	}{
		{"stranger sees no such clip", stranger, e.clip, "", "", http.StatusNotFound},
		{"unknown clip", owner, "01234567890123456789abcdef", "", "", http.StatusNotFound},
		{"garbage clip id", owner, "x", "", "", http.StatusNotFound},
		{"signed out", "", e.clip, "", "", http.StatusUnauthorized},
		{"foreign origin", owner, e.clip, "https://evil.example.com", "", http.StatusForbidden},
		{"bad since", owner, e.clip, "", "since=-1", http.StatusBadRequest},
	}
	for _, tc := range cases {
		h := http.Header{}
		if tc.user != "" {
			h.Set("X-Test-User", tc.user)
		}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		_, resp, err := websocket.DefaultDialer.Dial(n.wsURL(tc.clip, tc.query), h)
		if err == nil || resp == nil || resp.StatusCode != tc.status {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("%s: status %d (%v), want %d", tc.name, status, err, tc.status)
		}
	}
	h := http.Header{"X-Test-User": {owner}, "Origin": {"https://app.example.org"}}
	c, _, err := websocket.DefaultDialer.Dial(n.wsURL(e.clip, ""), h)
	if err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	c.Close()
}

// TestAbuse covers every way a client can misbehave.
func TestAbuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{MaxMessageBytes: 1 << 10})
	n := e.nodes[0]
	t.Run("oversized frame closes 1009", func(t *testing.T) {
		t.Parallel()
		c := join(t, n, e.clip, owner, nil)
		c.sendRaw([]byte(`{"type":"ping","t":1,"pad":"` + strings.Repeat("x", 2<<10) + `"}`))
		if code := c.closeCode(); code != websocket.CloseMessageTooBig {
			t.Fatalf("close %d", code)
		}
	})
	t.Run("binary frame closes 1003", func(t *testing.T) {
		t.Parallel()
		c := join(t, n, e.clip, owner, nil)
		c.conn.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
		if code := c.closeCode(); code != websocket.CloseUnsupportedData {
			t.Fatalf("close %d", code)
		}
	})
	t.Run("malformed and unknown messages get errors, then a close", func(t *testing.T) {
		t.Parallel()
		c := join(t, n, e.clip, owner, nil)
		for _, tc := range []struct{ raw, code string }{
			{`{"type":`, "invalid_json"},
			{`{"type":"teleport","ref":"r"}`, "unknown_type"},
			{`{"type":"ping"}`, "invalid_input"},
			{`{"type":"ping","t":1,"x":0.5}`, "invalid_input"},
			{`{"type":"pointer","x":2,"y":0}`, "invalid_input"},
			{`[1,2]`, "invalid_input"},
		} {
			c.sendRaw([]byte(tc.raw))
			if m := c.until(isType("error")); m.str("code") != tc.code {
				t.Fatalf("%s: error %v, want code %s", tc.raw, m, tc.code)
			}
		}
		c.send(map[string]any{"type": "ping", "t": 42})
		if m := c.until(isType("pong")); m.num("t") != 42 || m.num("server_ms") == 0 {
			t.Fatalf("pong = %v", m)
		}
		for i := 0; i < 20; i++ {
			c.sendRaw([]byte(`nonsense`))
		}
		if code := c.closeCode(); code != live.CloseBadMessages {
			t.Fatalf("close %d", code)
		}
	})
	t.Run("flood is rate limited, then closed", func(t *testing.T) {
		t.Parallel()
		c := join(t, n, e.clip, owner, nil)
		go func() {
			for i := 0; i < 500; i++ {
				if c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","t":1}`)) != nil {
					return
				}
			}
		}()
		sawLimit := false
		for {
			m, err := c.read()
			if err != nil {
				ce, ok := err.(*websocket.CloseError)
				if !ok || ce.Code != live.CloseRateLimited {
					t.Fatalf("ended with %v", err)
				}
				break
			}
			if m.typ() == "error" && m.str("code") == "rate_limited" {
				sawLimit = true
			}
		}
		if !sawLimit {
			t.Fatal("no rate_limited error before the close")
		}
	})
	t.Run("hello must come first, in our version", func(t *testing.T) {
		t.Parallel()
		for _, first := range []string{`{"type":"ping","t":1}`, `{"type":"hello","v":2}`, `garbage`} {
			conn, _, err := dial(t, n, e.clip, owner, "")
			if err != nil {
				t.Fatal(err)
			}
			c := &wsClient{t: t, user: owner, conn: conn}
			c.sendRaw([]byte(first))
			if code := c.closeCode(); code != live.CloseProtocol {
				t.Fatalf("%s: close %d", first, code)
			}
		}
	})
	t.Run("forged since gets an error and the head", func(t *testing.T) {
		t.Parallel()
		c := join(t, n, e.clip, owner, ptr(int64(1000)))
		m := c.next()
		if m.typ() != "error" || m.str("code") != "since_ahead" {
			t.Fatalf("after welcome: %v", m)
		}
		if c.welcome.num("head") >= 1000 || c.welcome["since"] != nil {
			t.Fatalf("welcome = %v", c.welcome)
		}
	})
	t.Run("since in the URL", func(t *testing.T) {
		t.Parallel()
		conn, _, err := dial(t, n, e.clip, owner, "since=5000")
		if err != nil {
			t.Fatal(err)
		}
		c := &wsClient{t: t, user: owner, conn: conn}
		c.send(map[string]any{"type": "hello", "v": 1})
		if w := c.next(); w.typ() != "welcome" || w["since"] != nil {
			t.Fatalf("welcome = %v", w)
		}
		if m := c.next(); m.str("code") != "since_ahead" {
			t.Fatalf("after welcome: %v", m)
		}
	})
}

// TestSlowClientIsCutOff never reads; the room keeps going and the client
// finds close 4008 when it finally reads.
func TestSlowClientIsCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{SendQueue: 8})
	n := e.nodes[0]
	slow := join(t, n, e.clip, owner, nil)
	fast := join(t, n, e.clip, coach, nil)
	big := strings.Repeat("y", 32<<10)
	sent := 0
	for n.hub.Stats().Closes[live.CloseTooSlow] == 0 {
		restCreate(t, n, e.clip, coach, big, false)
		sent++
		fast.until(isEvent(""))
	}
	if code := slow.closeCode(); code != live.CloseTooSlow {
		t.Fatalf("close %d", code)
	}
	// The room did not wait for it: the fast client got every event.
	restCreate(t, n, e.clip, coach, "after", false)
	if m := fast.until(isEvent("")); m.num("seq") != int64(sent+1) {
		t.Fatalf("fast client at %v after %d events", m, sent)
	}
}

func TestCloseDisconnectsWithGoingAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{})
	n := e.nodes[0]
	c := join(t, n, e.clip, owner, nil)
	go n.hub.Close()
	if code := c.closeCode(); code != websocket.CloseGoingAway {
		t.Fatalf("close %d", code)
	}
}

// TestHandlerReturnsAfterUpgrade: the HTTP handler returns once the socket
// is upgraded (so the request and its buffers are not held for the
// connection's life), and the connection goes on working.
func TestHandlerReturnsAfterUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{})
	n := e.nodes[0]
	returned := make(chan struct{}, 1)
	ec := echo.New()
	g := ec.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx := accounts.WithActor(c.Request().Context(), actor(coach))
			c.SetRequest(c.Request().WithContext(ctx))
			err := next(c)
			returned <- struct{}{}
			return err
		}
	})
	live.NewHandler(n.hub).Routes(g)
	srv := httptest.NewServer(ec)
	t.Cleanup(srv.Close)
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/api/clips/"+e.clip+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	<-returned // before hello: the handler did not wait for the connection
	c := &wsClient{t: t, user: coach, conn: conn}
	c.send(map[string]any{"type": "hello", "v": 1})
	if m := c.next(); m.typ() != "welcome" {
		t.Fatalf("got %v, want welcome", m)
	}
	c.send(map[string]any{"type": "ping", "t": 7})
	if m := c.until(isType("pong")); m.num("t") != 7 {
		t.Fatalf("pong %v", m)
	}
	restCreate(t, n, e.clip, owner, "still live", false)
	c.until(isEvent("annotation.created"))
}

// TestOutOfOrderEventsAreDeliveredInOrder: an event published before its
// predecessor (two writers racing between commit and publish) makes the
// room read the gap from the log, so clients still see seq order, once.
func TestOutOfOrderEventsAreDeliveredInOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{})
	n := e.nodes[0]
	c := join(t, n, e.clip, coach, nil)
	log := annotations.NewEventLog(e.db)
	ctx := context.Background()
	var evs []annotations.Event
	for i := 0; i < 3; i++ {
		ev, err := log.Append(ctx, annotations.Event{ClipID: e.clip, Type: annotations.EventAnnotationCreated, ActorID: owner, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	before := n.hub.Stats().GapReads
	n.hub.Publish(ctx, evs[2])
	n.hub.Publish(ctx, evs[0])
	n.hub.Publish(ctx, evs[1])
	for _, want := range evs {
		if m := c.until(isEvent("")); m.num("seq") != want.Seq {
			t.Fatalf("got seq %d, want %d", m.num("seq"), want.Seq)
		}
	}
	if got := n.hub.Stats().GapReads - before; got != 1 {
		t.Fatalf("%d gap reads, want 1", got)
	}
	// The late predecessors were dropped as duplicates: next comes seq 4.
	restCreate(t, n, e.clip, owner, "next", false)
	if m := c.until(isEvent("")); m.num("seq") != evs[2].Seq+1 {
		t.Fatalf("got seq %d after the gap, want %d", m.num("seq"), evs[2].Seq+1)
	}
}
