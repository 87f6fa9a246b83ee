package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/testsvc"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestLimiter is the shared suite: every Limiter implementation on every
// database runs it (today: the SQL limiter on SQLite and PostgreSQL).
func TestLimiter(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			exercise(t, func(t *testing.T) (ratelimit.Limiter, *clock) {
				clk := &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
				return ratelimit.NewSQL(d.Open(t), clk.now), clk
			})
		})
	}
}

func exercise(t *testing.T, setup func(t *testing.T) (ratelimit.Limiter, *clock)) {
	ctx := context.Background()
	allow := func(t *testing.T, l ratelimit.Limiter, key string, r ratelimit.Rate) ratelimit.Decision {
		t.Helper()
		d, err := l.Allow(ctx, key, r)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	attempt := func(t *testing.T, l ratelimit.Limiter, key string, b ratelimit.Backoff) ratelimit.Decision {
		t.Helper()
		d, err := l.Attempt(ctx, key, b)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("rate allows a burst, then one per interval", func(t *testing.T) {
		t.Parallel()
		l, clk := setup(t)
		r := ratelimit.Rate{Count: 60, Per: time.Minute, Burst: 5} // one a second
		for i := range 5 {
			if d := allow(t, l, "w:a", r); !d.Allowed {
				t.Fatalf("event %d of the burst refused", i+1)
			}
		}
		d := allow(t, l, "w:a", r)
		if d.Allowed || d.RetryAfter != time.Second || d.RetryAfterSeconds() != 1 {
			t.Fatalf("past the burst: %+v, want refused for 1s", d)
		}
		// Another key has its own bucket.
		if d := allow(t, l, "w:b", r); !d.Allowed {
			t.Fatal("another key was refused")
		}
		// Refused events are not counted: after one interval, one fits.
		clk.advance(time.Second)
		if d := allow(t, l, "w:a", r); !d.Allowed {
			t.Fatal("refused after one interval")
		}
		if d := allow(t, l, "w:a", r); d.Allowed {
			t.Fatal("a second event fit in one interval")
		}
		// A refund gives one event back.
		if err := l.Refund(ctx, "w:a", r); err != nil {
			t.Fatal(err)
		}
		if d := allow(t, l, "w:a", r); !d.Allowed {
			t.Fatal("refused after a refund")
		}
		// A long pause refills the bucket, and only up to the burst.
		clk.advance(time.Hour)
		for i := range 5 {
			if d := allow(t, l, "w:a", r); !d.Allowed {
				t.Fatalf("event %d after a pause refused", i+1)
			}
		}
		if d := allow(t, l, "w:a", r); d.Allowed {
			t.Fatal("the bucket held more than its burst")
		}
	})

	t.Run("retry-after says how long", func(t *testing.T) {
		t.Parallel()
		l, clk := setup(t)
		r := ratelimit.Rate{Count: 2, Per: time.Minute, Burst: 2} // one every 30s
		allow(t, l, "k", r)
		allow(t, l, "k", r)
		if d := allow(t, l, "k", r); d.Allowed || d.RetryAfter != 30*time.Second {
			t.Fatalf("got %+v, want refused for 30s", d)
		}
		clk.advance(20 * time.Second)
		if d := allow(t, l, "k", r); d.Allowed || d.RetryAfter != 10*time.Second {
			t.Fatalf("20s later: %+v, want refused for 10s", d)
		}
	})

	t.Run("off limits nothing", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t)
		for range 100 {
			if d := allow(t, l, "k", ratelimit.Rate{}); !d.Allowed {
				t.Fatal("an off rate refused")
			}
			if d := attempt(t, l, "k", ratelimit.Backoff{}); !d.Allowed {
				t.Fatal("an off back-off refused")
			}
		}
	})

	t.Run("concurrent events are counted exactly", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t)
		r := ratelimit.Rate{Count: 1, Per: time.Hour, Burst: 10}
		b := ratelimit.Backoff{After: 7, Base: time.Hour, Max: time.Hour}
		var allowed, attempted atomic.Int32
		var wg sync.WaitGroup
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := l.Allow(ctx, "burst", r)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
				}
				d, err = l.Attempt(ctx, "pair", b)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					attempted.Add(1)
				}
			}()
		}
		wg.Wait()
		if allowed.Load() != 10 || attempted.Load() != 7 {
			t.Fatalf("allowed %d of a burst of 10 and %d attempts of 7", allowed.Load(), attempted.Load())
		}
	})

	t.Run("back-off doubles up to its maximum", func(t *testing.T) {
		t.Parallel()
		l, clk := setup(t)
		b := ratelimit.Backoff{After: 3, Base: time.Second, Max: 4 * time.Second, Forget: time.Hour}
		for i := range 3 {
			if d := attempt(t, l, "p", b); !d.Allowed {
				t.Fatalf("free attempt %d refused", i+1)
			}
		}
		for _, tc := range []struct {
			wait time.Duration
		}{{time.Second}, {2 * time.Second}, {4 * time.Second}, {4 * time.Second}} {
			d := attempt(t, l, "p", b)
			if d.Allowed || d.RetryAfter != tc.wait {
				t.Fatalf("got %+v, want a wait of %s", d, tc.wait)
			}
			// Waiting less than asked is refused again, and not counted.
			clk.advance(tc.wait - time.Millisecond)
			if d := attempt(t, l, "p", b); d.Allowed || d.RetryAfter != time.Second {
				t.Fatalf("just before the wait ends: %+v", d)
			}
			clk.advance(time.Millisecond)
			if d := attempt(t, l, "p", b); !d.Allowed {
				t.Fatalf("refused after waiting %s", tc.wait)
			}
		}
		// Another key is untouched.
		if d := attempt(t, l, "q", b); !d.Allowed {
			t.Fatal("another key was refused")
		}
		// A success resets.
		if err := l.Reset(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if d := attempt(t, l, "p", b); !d.Allowed {
				t.Fatalf("attempt %d after a reset refused", i+1)
			}
		}
		if d := attempt(t, l, "p", b); d.Allowed || d.RetryAfter != time.Second {
			t.Fatalf("after a reset the back-off starts at the base again: %+v", d)
		}
		// A key left alone for Forget starts over.
		clk.advance(time.Hour + time.Second)
		for i := range 3 {
			if d := attempt(t, l, "p", b); !d.Allowed {
				t.Fatalf("attempt %d after an idle hour refused", i+1)
			}
		}
	})

	t.Run("uncount takes an attempt back", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t)
		b := ratelimit.Backoff{After: 2, Base: time.Minute, Max: time.Minute}
		attempt(t, l, "p", b)
		if err := l.Uncount(ctx, "p"); err != nil {
			t.Fatal(err)
		}
		attempt(t, l, "p", b)
		if d := attempt(t, l, "p", b); !d.Allowed {
			t.Fatal("an uncounted attempt still counted")
		}
		if d := attempt(t, l, "p", b); d.Allowed {
			t.Fatal("past After without a wait")
		}
	})

	t.Run("sweep removes only rows that limit nothing", func(t *testing.T) {
		t.Parallel()
		l, clk := setup(t)
		r := ratelimit.Rate{Count: 1, Per: time.Minute, Burst: 1}
		b := ratelimit.Backoff{After: 1, Base: time.Minute, Max: time.Minute, Forget: time.Hour}
		allow(t, l, "old", r)
		attempt(t, l, "old", b)
		clk.advance(2 * time.Hour)
		allow(t, l, "new", r)
		attempt(t, l, "new", b)
		n, err := l.Sweep(ctx, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("swept %d rows, want the 2 old ones", n)
		}
		if d := allow(t, l, "new", r); d.Allowed {
			t.Fatal("sweep emptied a bucket still in use")
		}
		if d := attempt(t, l, "new", b); d.Allowed {
			t.Fatal("sweep forgot a back-off still waiting")
		}
	})
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want ratelimit.Rate
		err  bool
	}{
		{"120/1m,60", ratelimit.Rate{Count: 120, Per: time.Minute, Burst: 60}, false},
		{" 20/1m , 100 ", ratelimit.Rate{Count: 20, Per: time.Minute, Burst: 100}, false},
		{"30/1h", ratelimit.Rate{Count: 30, Per: time.Hour, Burst: 30}, false},
		{"off", ratelimit.Rate{}, false},
		{"0", ratelimit.Rate{}, false},
		{"120", ratelimit.Rate{}, true},
		{"x/1m", ratelimit.Rate{}, true},
		{"-1/1m", ratelimit.Rate{}, true},
		{"10/forever", ratelimit.Rate{}, true},
		{"10/1m,0", ratelimit.Rate{}, true},
	} {
		got, err := ratelimit.ParseRate(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRate(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && tc.in == "120/1m,60" && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
		if err == nil {
			if back, _ := ratelimit.ParseRate(got.String()); back != got {
				t.Errorf("ParseRate(%q.String()) = %+v", tc.in, back)
			}
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	if ratelimit.Key("pair", "a", "bc") == ratelimit.Key("pair", "ab", "c") {
		t.Fatal("different parts made one key")
	}
	if k := ratelimit.Key("pair", string(make([]byte, 1<<20))); len(k) != len("pair:")+32 {
		t.Fatalf("key of a huge part is %d bytes", len(k))
	}
}
