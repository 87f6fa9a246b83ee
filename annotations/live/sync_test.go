package live_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/filmroom/filmroom/annotations/live"
)

func state(m msg) msg { return m.obj("data") }

// TestSyncSession walks a review session: start, seek, play, pause, a late
// joiner, a peer without the host role, a request for control, a hand-off,
// the host leaving twice (hand-off, then the end) and the exported log.
func TestSyncSession(t *testing.T) {
	t.Parallel()
	for _, d := range databases(true) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d, live.Config{})
			n := e.nodes[0]
			host := join(t, n, e.clip, owner, nil)
			p := join(t, n, e.clip, peer, nil)
			co := join(t, n, e.clip, coach, nil)

			p.send(map[string]any{"type": "sync.start", "ref": "s"})
			if m := p.until(isType("error")); m.str("code") != "forbidden" || m.str("ref") != "s" {
				t.Fatalf("peer started a session: %v", m)
			}
			host.send(map[string]any{"type": "sync.start", "ref": "s", "position_ms": 0})
			if m := host.until(isType("ack")); m.num("seq") != 1 {
				t.Fatalf("ack = %v", m)
			}
			if st := state(p.until(isEvent("sync.start"))); !st["active"].(bool) || st.str("host_id") != owner {
				t.Fatalf("start state = %v", st)
			}
			host.send(map[string]any{"type": "sync.seek", "position_ms": 5000})
			if st := state(p.until(isEvent("sync.seek"))); st.num("position_ms") != 5000 || st["playing"].(bool) {
				t.Fatalf("seek state = %v", st)
			}
			host.send(map[string]any{"type": "sync.play"})
			if st := state(p.until(isEvent("sync.play"))); !st["playing"].(bool) || st.num("position_ms") != 5000 || st.num("at_server_ms") == 0 {
				t.Fatalf("play state = %v", st)
			}
			host.send(map[string]any{"type": "sync.pause", "position_ms": 7000})
			if st := state(p.until(isEvent("sync.pause"))); st["playing"].(bool) || st.num("position_ms") != 7000 {
				t.Fatalf("pause state = %v", st)
			}
			host.send(map[string]any{"type": "sync.rate", "rate": 1.5})
			if st := state(p.until(isEvent("sync.rate"))); st["rate"].(float64) != 1.5 {
				t.Fatalf("rate state = %v", st)
			}
			for _, cmd := range []map[string]any{
				{"type": "sync.seek", "ref": "x", "position_ms": 1},
				{"type": "sync.play", "ref": "x"},
				{"type": "pointer", "ref": "x", "x": 0.5, "y": 0.5},
				{"type": "sync.request", "ref": "x"},
			} {
				p.send(cmd)
				if m := p.until(isType("error")); m.str("code") != "forbidden" {
					t.Fatalf("peer %s: %v", cmd["type"], m)
				}
			}

			late := join(t, n, e.clip, peer2, nil)
			st := late.welcome.obj("sync")
			if !st["active"].(bool) || st.str("host_id") != owner || st.num("position_ms") != 7000 || st["playing"].(bool) || st["rate"].(float64) != 1.5 {
				t.Fatalf("late joiner's sync = %v", st)
			}

			host.send(map[string]any{"type": "pointer", "x": 0.25, "y": 0.75})
			if m := p.until(isType("pointer")); m.str("user_id") != owner || m["x"].(float64) != 0.25 {
				t.Fatalf("pointer = %v", m)
			}
			co.send(map[string]any{"type": "sync.request", "ref": "r"})
			if m := host.until(isType("sync.requested")); m.str("user_id") != coach || m.str("name") != names[coach] {
				t.Fatalf("request = %v", m)
			}
			co.send(map[string]any{"type": "sync.seek", "ref": "y", "position_ms": 1})
			if m := co.until(isType("error")); m.str("code") != "forbidden" {
				t.Fatalf("coach before hand-off: %v", m)
			}
			host.send(map[string]any{"type": "sync.handoff", "ref": "h", "user_id": peer})
			if m := host.until(isType("error")); m.str("code") != "invalid_input" {
				t.Fatalf("hand-off to a peer: %v", m)
			}
			host.send(map[string]any{"type": "sync.handoff", "user_id": coach})
			if st := state(p.until(isEvent("sync.host"))); st.str("host_id") != coach || st.str("host_name") != names[coach] {
				t.Fatalf("hand-off state = %v", st)
			}
			host.send(map[string]any{"type": "sync.seek", "ref": "z", "position_ms": 1})
			if m := host.until(isType("error")); m.str("code") != "forbidden" {
				t.Fatalf("old host still controls: %v", m)
			}
			co.send(map[string]any{"type": "sync.seek", "position_ms": 1000})
			if st := state(p.until(isEvent("sync.seek"))); st.num("position_ms") != 1000 || st.str("by") != coach {
				t.Fatalf("new host's seek = %v", st)
			}
			host.send(map[string]any{"type": "sync.start", "ref": "again"})
			if m := host.until(isType("error")); m.str("code") != "session_active" {
				t.Fatalf("start over a present host: %v", m)
			}

			// The host leaves: the session passes to the next member who
			// may host (the owner); when the owner leaves too, nobody left
			// may host, and the session ends.
			co.conn.Close()
			if st := state(p.until(isEvent(""))); st.str("host_id") != owner {
				t.Fatalf("after the host left: %v", st)
			}
			host.conn.Close()
			end := p.until(isEvent(""))
			if end.str("event") != "sync.end" || state(end)["active"].(bool) {
				t.Fatalf("after the last host left: %v", end)
			}

			req, _ := http.NewRequest("GET", n.srv.URL+"/api/clips/"+e.clip+"/live/log", nil)
			req.Header.Set("X-Test-User", peer)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var log live.SessionLog
			if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, en := range log.Entries {
				types = append(types, en.Type)
			}
			want := "[sync.start sync.seek sync.play sync.pause sync.rate sync.host sync.seek sync.host sync.end]"
			if resp.StatusCode != 200 || log.ClipID != e.clip || fmtS(types) != want {
				t.Fatalf("log %d: %v, want %s", resp.StatusCode, types, want)
			}
			req.Header.Set("X-Test-User", stranger)
			resp2, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp2.Body.Close()
			if resp2.StatusCode != http.StatusNotFound {
				t.Fatalf("stranger's log request: %d", resp2.StatusCode)
			}
		})
	}
}

func fmtS(s []string) string { return fmt.Sprint(s) }

// TestHostTakeOverWhenAbsent: a member who may host takes over a session
// whose host is gone, without waiting for the grace period.
func TestHostTakeOverWhenAbsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, databases(false)[0], live.Config{HostGrace: 1 << 62})
	n := e.nodes[0]
	host := join(t, n, e.clip, owner, nil)
	co := join(t, n, e.clip, coach, nil)
	host.send(map[string]any{"type": "sync.start", "playing": true, "position_ms": 100})
	co.until(isEvent("sync.start"))
	host.conn.Close()
	co.until(func(m msg) bool { return m.typ() == "presence" && m.str("op") == "leave" })
	// The host is away but within its grace period: a member who may
	// host takes over explicitly.
	co.send(map[string]any{"type": "sync.take", "ref": "t"})
	if st := state(co.until(isEvent("sync.host"))); st.str("host_id") != coach || !st["playing"].(bool) || st.num("position_ms") < 100 {
		t.Fatalf("take-over state = %v", st)
	}
	back := join(t, n, e.clip, owner, nil)
	if st := back.welcome.obj("sync"); st.str("host_id") != coach {
		t.Fatalf("returning owner sees %v", st)
	}
}
