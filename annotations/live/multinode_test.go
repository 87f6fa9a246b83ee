package live_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// busPair makes the buses of two nodes: one shared in-process bus, or two
// NATS connections (two nodes as in production, in one process).
type busPair struct {
	name string
	make func(t *testing.T) (live.Bus, live.Bus)
}

func busPairs() []busPair {
	return []busPair{
		{"memory", func(t *testing.T) (live.Bus, live.Bus) {
			b := bus.NewMemory()
			t.Cleanup(func() { b.Close() })
			return b, b
		}},
		{"nats", func(t *testing.T) (live.Bus, live.Bus) {
			url := testsvc.NATSURL(t)
			var out [2]live.Bus
			for i := range out {
				b, err := bus.ConnectNATS(url, fmt.Sprintf("live-test-node-%d", i))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { b.Close() })
				out[i] = b
			}
			return out[0], out[1]
		}},
	}
}

// TestTwoNodes runs two hubs on one database with their own bus
// connections: a client on A sees B's members, annotations and sync
// commands, in the one seq order, and a gap left by a lost bus message is
// filled from the log.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	for _, bp := range busPairs() {
		for _, d := range databases(true) {
			t.Run(bp.name+"/"+d.Name, func(t *testing.T) {
				t.Parallel()
				db := d.Open(t)
				az, clip := seed(t, db)
				e := &env{db: db, az: az, clip: clip}
				ba, bb := bp.make(t)
				na := e.addNode(t, live.Config{NodeID: "A"}, ba)
				nb := e.addNode(t, live.Config{NodeID: "B"}, bb)

				a := join(t, na, clip, peer, nil)
				b := join(t, nb, clip, owner, nil)
				if j := a.until(isType("presence")); j.str("op") != "join" || j.obj("member").str("user_id") != owner {
					t.Fatalf("A saw %v", j)
				}
				// B learnt A's members from A's roster.
				eventually(func() bool { return len(nb.hub.RoomMembers(clip)) == 2 })

				b.send(map[string]any{"type": "annotation.create", "ref": "b1", "body": map[string]any{"text": "from B"}})
				if m := a.until(isEvent("")); m.num("seq") != 1 || m.obj("data").str("text") != "from B" {
					t.Fatalf("A got %v", m)
				}
				restCreate(t, na, clip, peer, "from A", false)
				if m := b.until(func(m msg) bool { return m.typ() == "event" && m.num("seq") > 1 }); m.num("seq") != 2 || m.obj("data").str("text") != "from A" {
					t.Fatalf("B got %v", m)
				}

				b.send(map[string]any{"type": "sync.start", "position_ms": 0})
				b.send(map[string]any{"type": "sync.seek", "position_ms": 3000})
				b.send(map[string]any{"type": "sync.play"})
				if st := state(a.until(isEvent("sync.start"))); st.str("host_id") != owner {
					t.Fatalf("A's start = %v", st)
				}
				if st := state(a.until(isEvent("sync.seek"))); st.num("position_ms") != 3000 {
					t.Fatalf("A's seek = %v", st)
				}
				if st := state(a.until(isEvent("sync.play"))); !st["playing"].(bool) {
					t.Fatalf("A's play = %v", st)
				}

				// An event whose bus message was lost (appended, never
				// published) is read from the log when the next one
				// arrives, before it.
				lost, err := annotations.NewEventLog(db).Append(context.Background(), annotations.Event{ClipID: clip, Type: annotations.EventAnnotationCreated, Data: []byte(`{"text":"lost"}`)})
				if err != nil {
					t.Fatal(err)
				}
				restCreate(t, nb, clip, owner, "after the loss", false)
				if m := a.until(isEvent("")); m.num("seq") != lost.Seq || m.obj("data").str("text") != "lost" {
					t.Fatalf("A got %v, want the lost event %d first", m, lost.Seq)
				}
				if m := a.until(isEvent("")); m.num("seq") != lost.Seq+1 {
					t.Fatalf("A got %v", m)
				}

				late := join(t, na, clip, coach, nil)
				if st := late.welcome.obj("sync"); st.str("host_id") != owner || !st["playing"].(bool) {
					t.Fatalf("late joiner on A sees %v", st)
				}
				late.send(map[string]any{"type": "sync.request"})
				if m := b.until(isType("sync.requested")); m.str("user_id") != coach {
					t.Fatalf("host on B got %v", m)
				}
				b.send(map[string]any{"type": "sync.handoff", "user_id": coach})
				if st := state(late.until(isEvent("sync.host"))); st.str("host_id") != coach {
					t.Fatalf("hand-off across nodes = %v", st)
				}
				late.send(map[string]any{"type": "sync.pause", "position_ms": 4000})
				if st := state(b.until(isEvent("sync.pause"))); st.num("position_ms") != 4000 || st.str("by") != coach {
					t.Fatalf("B saw %v", st)
				}
			})
		}
	}
}

// TestPublishEventFromWorker: a process without a hub (a media worker)
// logs an event and announces it with PublishEvent; a room on a serve node
// delivers it at once, not at its next repair.
func TestPublishEventFromWorker(t *testing.T) {
	t.Parallel()
	for _, bp := range busPairs() {
		t.Run(bp.name, func(t *testing.T) {
			t.Parallel()
			d := databases(false)[0]
			db := d.Open(t)
			az, clip := seed(t, db)
			e := &env{db: db, az: az, clip: clip}
			nodeBus, workerBus := bp.make(t)
			n := e.addNode(t, live.Config{NodeID: "A", RepairInterval: time.Hour}, nodeBus)
			c := join(t, n, clip, peer, nil)
			eventually(func() bool { return len(n.hub.RoomMembers(clip)) == 1 })

			ctx := context.Background()
			ev, err := annotations.NewEventLog(db).Append(ctx, annotations.Event{ClipID: clip, Type: annotations.EventCaptionsChanged,
				Data: []byte(`{"status":"ready","progress":100,"tracks":[]}`)})
			if err != nil {
				t.Fatal(err)
			}
			if err := live.PublishEvent(ctx, workerBus, "worker-1", ev); err != nil {
				t.Fatal(err)
			}
			m := c.until(isEvent(annotations.EventCaptionsChanged))
			if m.num("seq") != ev.Seq || m.obj("data").str("status") != "ready" {
				t.Fatalf("got %v", m)
			}
		})
	}
}
