package bus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// Bus is the contract every implementation must keep; the live package
// declares the same interface where it uses it.
type Bus interface {
	Publish(ctx context.Context, room string, msg []byte) error
	Subscribe(room string, fn func([]byte)) (unsubscribe func(), err error)
	Close() error
}

var (
	_ Bus = (*bus.Memory)(nil)
	_ Bus = (*bus.NATS)(nil)
)

// impl makes two buses that reach each other, as two nodes would.
type impl struct {
	name    string
	newPair func(t *testing.T) (Bus, Bus)
}

func impls() []impl {
	return []impl{
		{name: "memory", newPair: func(t *testing.T) (Bus, Bus) {
			m := bus.NewMemory()
			t.Cleanup(func() { m.Close() })
			return m, m
		}},
		{name: "nats", newPair: func(t *testing.T) (Bus, Bus) {
			url := testsvc.NATSURL(t)
			var out [2]Bus
			for i := range out {
				b, err := bus.ConnectNATS(url, fmt.Sprintf("bus-test-%d", i))
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

// collector records what a subscription receives.
type collector struct {
	mu   sync.Mutex
	got  []string
	wake chan struct{}
}

func newCollector() *collector { return &collector{wake: make(chan struct{}, 1)} }

func (c *collector) fn(b []byte) {
	c.mu.Lock()
	c.got = append(c.got, string(b))
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitFor blocks until the collector has n messages and returns them. The
// test binary's -timeout is the only bound: tests never race a clock.
func (c *collector) waitFor(n int) []string {
	for {
		c.mu.Lock()
		if len(c.got) >= n {
			out := append([]string(nil), c.got...)
			c.mu.Unlock()
			return out
		}
		c.mu.Unlock()
		<-c.wake
	}
}

func room() string { return "r" + id.New() }

// TestBus is the shared suite: every implementation runs every case.
func TestBus(t *testing.T) {
	t.Parallel()
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			t.Run("fan out to every subscriber of the room only", func(t *testing.T) {
				t.Parallel()
				a, b := im.newPair(t)
				r1, r2 := room(), room()
				s1, s2, other := newCollector(), newCollector(), newCollector()
				for _, s := range []struct {
					b    Bus
					room string
					c    *collector
				}{{a, r1, s1}, {b, r1, s2}, {b, r2, other}} {
					if _, err := s.b.Subscribe(s.room, s.c.fn); err != nil {
						t.Fatal(err)
					}
				}
				ctx := context.Background()
				if err := a.Publish(ctx, r1, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				if err := b.Publish(ctx, r2, []byte("sentinel")); err != nil {
					t.Fatal(err)
				}
				if got := s1.waitFor(1); got[0] != "hello" {
					t.Fatalf("same-node subscriber got %q", got)
				}
				if got := s2.waitFor(1); got[0] != "hello" {
					t.Fatalf("other-node subscriber got %q", got)
				}
				// Per-publisher order holds on both buses, so once the
				// sentinel arrives on r2 nothing from r1 is still coming.
				if got := other.waitFor(1); len(got) != 1 || got[0] != "sentinel" {
					t.Fatalf("subscriber of another room got %q", got)
				}
			})
			t.Run("one publisher's messages arrive in order", func(t *testing.T) {
				t.Parallel()
				a, b := im.newPair(t)
				r := room()
				c := newCollector()
				if _, err := b.Subscribe(r, c.fn); err != nil {
					t.Fatal(err)
				}
				const n = 500
				for i := 0; i < n; i++ {
					if err := a.Publish(context.Background(), r, []byte(fmt.Sprint(i))); err != nil {
						t.Fatal(err)
					}
				}
				got := c.waitFor(n)
				for i, s := range got {
					if s != fmt.Sprint(i) {
						t.Fatalf("message %d is %q", i, s)
					}
				}
			})
			t.Run("no call after unsubscribe returns", func(t *testing.T) {
				t.Parallel()
				a, b := im.newPair(t)
				r := room()
				var calls atomic.Int64
				unsub, err := b.Subscribe(r, func([]byte) { calls.Add(1) })
				if err != nil {
					t.Fatal(err)
				}
				keep := newCollector()
				if _, err := b.Subscribe(r, keep.fn); err != nil {
					t.Fatal(err)
				}
				if err := a.Publish(context.Background(), r, []byte("before")); err != nil {
					t.Fatal(err)
				}
				keep.waitFor(1)
				unsub()
				unsub() // idempotent
				before := calls.Load()
				for i := 0; i < 20; i++ {
					if err := a.Publish(context.Background(), r, []byte("after")); err != nil {
						t.Fatal(err)
					}
				}
				keep.waitFor(21)
				if after := calls.Load(); after != before {
					t.Fatalf("unsubscribed callback ran %d more times", after-before)
				}
			})
			t.Run("invalid room names are refused", func(t *testing.T) {
				t.Parallel()
				a, _ := im.newPair(t)
				for _, name := range []string{"", "a.b", "a*", ">", "a b"} {
					if err := a.Publish(context.Background(), name, []byte("x")); err == nil {
						t.Errorf("Publish(%q) succeeded", name)
					}
					if _, err := a.Subscribe(name, func([]byte) {}); err == nil {
						t.Errorf("Subscribe(%q) succeeded", name)
					}
				}
			})
			t.Run("cancelled context is refused", func(t *testing.T) {
				t.Parallel()
				a, _ := im.newPair(t)
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := a.Publish(ctx, room(), []byte("x")); err == nil {
					t.Fatal("Publish with a cancelled context succeeded")
				}
			})
			t.Run("publish after close fails", func(t *testing.T) {
				t.Parallel()
				a, _ := im.newPair(t)
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
				if err := a.Publish(context.Background(), room(), []byte("x")); err == nil {
					t.Fatal("Publish after Close succeeded")
				}
			})
		})
	}
}
