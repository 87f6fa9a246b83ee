package live

import (
	"fmt"
	"testing"
)

// TestSendQueue checks the per-connection queue: order, the bound (a full
// queue cuts the client off with 4008 rather than blocking the room), and
// that a drained queue keeps no backing array, so idle clients cost
// nothing for it.
func TestSendQueue(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		limit     int
		sent      int
		wantKept  int
		wantClose int
	}{
		{name: "under the bound", limit: 4, sent: 3, wantKept: 3},
		{name: "exactly the bound", limit: 4, sent: 4, wantKept: 4},
		{name: "over the bound", limit: 4, sent: 6, wantKept: 4, wantClose: CloseTooSlow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &Hub{cfg: Config{SendQueue: tc.limit}.withDefaults()}
			h.stats.closes = map[int]int64{}
			c := &client{hub: h, wake: make(chan struct{}, 1), done: make(chan struct{})}
			if c.queue != nil {
				t.Fatal("a new client has a queue")
			}
			for i := 0; i < tc.sent; i++ {
				c.enqueue([]byte(fmt.Sprint(i)))
			}
			if tc.wantClose != 0 {
				select {
				case <-c.done:
				default:
					t.Fatal("an overflowing client was not cut off")
				}
				if c.closeCode != tc.wantClose || h.stats.closes[tc.wantClose] != 1 {
					t.Fatalf("close code %d, counted %v", c.closeCode, h.stats.closes)
				}
			}
			select {
			case <-c.wake:
			default:
				t.Fatal("the writer was not woken")
			}
			for i := 0; i < tc.wantKept; i++ {
				msg, ok := c.next()
				if !ok || string(msg) != fmt.Sprint(i) {
					t.Fatalf("message %d is %q (%v)", i, msg, ok)
				}
			}
			if msg, ok := c.next(); ok {
				t.Fatalf("extra message %q", msg)
			}
			if c.queue != nil {
				t.Fatalf("a drained queue keeps a backing array of %d", cap(c.queue))
			}
		})
	}
}
