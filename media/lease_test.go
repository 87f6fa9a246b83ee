package media

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestLeaseTakeOver runs the lease rules on both databases with a clock
// the test moves: a living lease keeps other workers out, a lease that ran
// out shows a notice and is taken over exactly once, the worker that lost
// it can neither renew it nor store media, and the retry claims the handoff.
func TestLeaseTakeOver(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			clock := &testClock{t: time.UnixMilli(1_700_000_000_000)}
			e := newCapEnv(t, db)
			e.clips.now = clock.now
			if _, err := db.Writer().Exec(ctx, `UPDATE clips SET status = 'transcoding', progress = 40 WHERE id = ?`, e.clipID); err != nil {
				t.Fatal(err)
			}
			ls := &leases{db: db, ttl: 30 * time.Second, now: clock.now, log: quietLog()}
			p := &Pipeline{Clips: e.clips, Log: quietLog()}
			clip := func() Clip {
				c, err := e.clips.get(ctx, e.clipID)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			must := func(ok bool, err error) bool {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}

			if !must(ls.claim(ctx, e.clipID, "A", 1)) {
				t.Fatal("A could not claim a free lease")
			}
			if must(ls.claim(ctx, e.clipID, "B", 2)) {
				t.Fatal("B claimed a lease A holds")
			}
			clock.add(20 * time.Second)
			if !must(ls.renew(ctx, e.clipID, "A")) {
				t.Fatal("A could not renew its lease")
			}
			clock.add(29 * time.Second)
			if exp, err := ls.expired(ctx); err != nil || len(exp) != 0 || clip().Notice != "" {
				t.Fatalf("a renewed lease counts as expired: %v %v, notice %q", exp, err, clip().Notice)
			}

			clock.add(2 * time.Second) // A went silent: its lease ran out
			if n := clip().Notice; n != NoticeWorkerSilent {
				t.Fatalf("notice of a silent worker's clip: %q", n)
			}
			exp, err := ls.expired(ctx)
			if err != nil || len(exp) != 1 || exp[0].owner != "A" || exp[0].job != 1 {
				t.Fatalf("expired leases: %+v %v", exp, err)
			}
			if !must(ls.takeOver(ctx, exp[0])) {
				t.Fatal("the sweeper could not take the lease over")
			}
			if must(ls.takeOver(ctx, exp[0])) {
				t.Fatal("a second sweeper took the same lease over again")
			}
			c := clip()
			if !strings.Contains(c.Notice, "retrying (1 of 3)") || c.Progress != 0 {
				t.Fatalf("after the take-over: notice %q, progress %v", c.Notice, c.Progress)
			}

			// A comes back late: it has lost the lease and may not store media.
			if must(ls.renew(ctx, e.clipID, "A")) {
				t.Fatal("A renewed a lease that was taken over")
			}
			if err := p.holds(ctx, e.clipID, "A"); !errors.Is(err, errLeaseLost) {
				t.Fatalf("A may still store media: %v", err)
			}
			if !must(ls.claim(ctx, e.clipID, "B", 2)) {
				t.Fatal("the retry could not claim the handoff")
			}
			if err := p.holds(ctx, e.clipID, "B"); err != nil {
				t.Fatalf("the retry may not store media: %v", err)
			}
			if err := ls.release(ctx, e.clipID, "A"); err != nil {
				t.Fatal(err)
			}
			if err := p.holds(ctx, e.clipID, "B"); err != nil {
				t.Fatalf("A's late release dropped B's lease: %v", err)
			}
		})
	}
}
