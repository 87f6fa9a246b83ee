package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// testClock is the swappable clock of the rate-limit tests; several nodes
// may share one.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// limitedEnv is a server with the given limits and clock; configure, when
// given, changes the rest of its configuration.
func limitedEnv(t *testing.T, db *sqldb.DB, lim Limits, clk *testClock, configure ...func(*Config)) *env {
	t.Helper()
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: t.TempDir(), Migrate: true, Limits: lim}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: discardLog(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, ts: newTestServer(t, srv), db: db}
}

// want429 checks a refusal: status, Retry-After in seconds, and a message
// that says how long.
func want429(t *testing.T, res response, retryAfter int) {
	t.Helper()
	if res.status != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want 429", res.status, res.body)
	}
	if got := res.header.Get("Retry-After"); got != strconv.Itoa(retryAfter) {
		t.Fatalf("Retry-After %q, want %d (%s)", got, retryAfter, res.body)
	}
	if !strings.Contains(res.body, "wait ") {
		t.Fatalf("the message does not say how long to wait: %s", res.body)
	}
}

func login(e *env, email, password string) response {
	e.t.Helper()
	return e.do(person{}, "POST", "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
}

// TestRateLimits runs the HTTP side of every limit on SQLite and
// PostgreSQL: 429 with Retry-After, what counts and what does not.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	group := func(i int) string { return fmt.Sprintf(`{"name":"Cohort %d"}`, i) }
	for _, d := range testsvc.Databases(Migrations()...) {
		for _, tc := range []struct {
			name   string
			limits func(*Limits)
			run    func(t *testing.T, e *env, clk *testClock)
		}{
			{name: "writes past a user's burst wait", limits: func(l *Limits) { l.WritesPerUser = ratelimit.Rate{Count: 60, Per: time.Minute, Burst: 3} },
				run: func(t *testing.T, e *env, clk *testClock) {
					coach, other := e.user("coach@school.org", "Coach", false), e.user("other@school.org", "Other", false)
					for i := range 3 {
						if res := e.do(coach, "POST", "/api/v1/groups", group(i)); res.status != 201 {
							t.Fatalf("write %d: %d %s", i+1, res.status, res.body)
						}
					}
					res := e.do(coach, "POST", "/api/v1/groups", group(4))
					want429(t, res, 1)
					if !strings.Contains(res.body, `"code":"rate_limited"`) || !strings.Contains(res.body, "60 a minute") {
						t.Fatalf("body: %s", res.body)
					}
					if res := e.do(other, "POST", "/api/v1/groups", group(5)); res.status != 201 {
						t.Fatalf("another user was limited: %d %s", res.status, res.body)
					}
					clk.advance(time.Second)
					if res := e.do(coach, "POST", "/api/v1/groups", group(6)); res.status != 201 {
						t.Fatalf("after the wait: %d %s", res.status, res.body)
					}
				}},
			{name: "with the defaults a user's burst of annotations stops at 60", limits: func(l *Limits) { *l = DefaultLimits() },
				run: func(t *testing.T, e *env, clk *testClock) {
					coach := e.user("coach@school.org", "Coach", false)
					clip := e.clip(coach, "Lesson", "")
					note := func(i int) response {
						return e.do(coach, "POST", "/api/v1/clips/"+clip.ID+"/annotations", fmt.Sprintf(`{"start_ms":%d,"body":"note %d","kind":"note"}`, i*100, i))
					}
					for i := range 60 {
						if res := note(i); res.status != 201 {
							t.Fatalf("annotation %d: %d %s", i+1, res.status, res.body)
						}
					}
					want429(t, note(60), 1) // 120 a minute: one more every 500 ms
					clk.advance(500 * time.Millisecond)
					if res := note(61); res.status != 201 {
						t.Fatalf("after 500 ms: %d %s", res.status, res.body)
					}
				}},
			{name: "an address's writes are limited across its users", limits: func(l *Limits) { l.WritesPerAddress = ratelimit.Rate{Count: 6, Per: time.Minute, Burst: 4} },
				run: func(t *testing.T, e *env, clk *testClock) {
					for i := range 4 {
						p := e.user(fmt.Sprintf("u%d@school.org", i), "U", false)
						if res := e.do(p, "DELETE", "/api/v1/me/tokens/none", ""); res.status != 404 {
							t.Fatalf("write %d: %d %s", i+1, res.status, res.body)
						}
					}
					want429(t, e.do(e.user("u9@school.org", "U", false), "PATCH", "/api/v1/groups/none", `{"name":"x"}`), 10)
				}},
			{name: "reads are not limited", limits: func(l *Limits) {
				l.WritesPerUser = ratelimit.Rate{Count: 1, Per: time.Hour, Burst: 1}
				l.WritesPerAddress = l.WritesPerUser
			}, run: func(t *testing.T, e *env, clk *testClock) {
				p := e.user("reader@school.org", "Reader", false)
				for i := range 20 {
					if res := e.do(p, "GET", "/api/v1/groups", ""); res.status != 200 {
						t.Fatalf("read %d: %d %s", i+1, res.status, res.body)
					}
				}
			}},
			{name: "starting uploads is limited, their chunks are not", limits: func(l *Limits) {
				l.WritesPerUser = ratelimit.Rate{Count: 60, Per: time.Minute, Burst: 3}
				l.UploadsPerUser = ratelimit.Rate{Count: 1, Per: time.Hour, Burst: 1}
			}, run: func(t *testing.T, e *env, clk *testClock) {
				p := e.user("teacher@school.org", "Teacher", false)
				meta := "filename " + base64.StdEncoding.EncodeToString([]byte("lesson.mp4"))
				tus := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Upload-Metadata": meta}
				res := e.doWith(p, "POST", "/api/v1/uploads", "", tus)
				if res.status != 201 {
					t.Fatalf("create upload: %d %s", res.status, res.body)
				}
				loc := res.header.Get("Location")
				path := loc[strings.Index(loc, "/api/v1/uploads/"):]
				for off := 0; off < 10; off++ { // ten chunks, past the burst of 3 writes
					res := e.doWith(p, "PATCH", path, "x", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": strconv.Itoa(off),
						"Content-Type": "application/offset+octet-stream"})
					if res.status != 204 {
						t.Fatalf("chunk %d: %d %s", off+1, res.status, res.body)
					}
				}
				want429(t, e.doWith(p, "POST", "/api/v1/uploads", "", tus), 3600)
			}},
			{name: "sign-in back-off answers 429 with Retry-After", limits: func(l *Limits) { l.SignIn = DefaultLimits().SignIn },
				run: func(t *testing.T, e *env, clk *testClock) {
					e.user("owner@school.org", "Owner", false)
					for i := range 5 {
						if res := login(e, "owner@school.org", "wrong password"); res.status != 401 {
							t.Fatalf("wrong password %d: %d %s", i+1, res.status, res.body)
						}
					}
					want429(t, login(e, "owner@school.org", "a long enough password"), 1)
					clk.advance(time.Second)
					if res := login(e, "owner@school.org", "a long enough password"); res.status != 200 {
						t.Fatalf("after the wait: %d %s", res.status, res.body)
					}
				}},
			{name: "guesses of the current password answer 429 with Retry-After", limits: func(l *Limits) { l.SignIn = DefaultLimits().SignIn },
				run: func(t *testing.T, e *env, clk *testClock) {
					p := e.user("owner@school.org", "Owner", false)
					for i := range 5 {
						res := e.do(p, "POST", "/api/v1/me/password", fmt.Sprintf(`{"current_password":"guess %d","new_password":"a brand new password"}`, i))
						if res.status != 400 {
							t.Fatalf("guess %d: %d %s", i+1, res.status, res.body)
						}
					}
					want429(t, e.do(p, "POST", "/api/v1/me/password", `{"current_password":"a long enough password","new_password":"a brand new password"}`), 1)
				}},
		} {
			t.Run(d.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var lim Limits
				tc.limits(&lim)
				clk := newTestClock()
				tc.run(t, limitedEnv(t, d.Open(t), lim, clk), clk)
			})
		}
	}
}

// TestTrustedProxies: behind a configured load balancer the client address
// comes from X-Forwarded-For, so two clients have their own sign-in pairs;
// without one, the header is ignored and cannot dodge a limit.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.1/32")
	for _, tc := range []struct {
		name    string
		trusted []*net.IPNet
		other   int // status of a correct sign-in from another forwarded address
	}{
		{"no proxy configured: the header is ignored", nil, 429},
		{"behind a trusted proxy: each client has its own limit", []*net.IPNet{loopback}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := limitedEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), DefaultLimits(), newTestClock(),
				func(c *Config) { c.TrustedProxies = tc.trusted })
			e.user("owner@school.org", "Owner", false)
			from := func(ip, password string) response {
				return e.doWith(person{}, "POST", "/api/v1/auth/login", `{"email":"owner@school.org","password":"`+password+`"}`,
					map[string]string{"X-Forwarded-For": ip})
			}
			for i := range 5 {
				if res := from("203.0.113.66", "wrong password"); res.status != 401 {
					t.Fatalf("wrong password %d: %d %s", i+1, res.status, res.body)
				}
			}
			if res := from("203.0.113.66", "a long enough password"); res.status != 429 {
				t.Fatalf("the guessing client: %d %s, want 429", res.status, res.body)
			}
			if res := from("192.0.2.10", "a long enough password"); res.status != tc.other {
				t.Fatalf("another client: %d %s, want %d", res.status, res.body, tc.other)
			}
		})
	}
}

// TestSignInThrottleSharedByNodes runs two server instances on one
// PostgreSQL database: failures on node A count on node B, and a node
// started afterwards (a restart) remembers them.
func TestSignInThrottleSharedByNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := testsvc.PostgresSchema(t)
	open := func() *sqldb.DB {
		db, err := sqldb.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	first := open()
	if _, err := first.Up(ctx, Migrations()); err != nil {
		t.Fatal(err)
	}
	clk := newTestClock()
	lim := DefaultLimits()
	a, b := limitedEnv(t, first, lim, clk), limitedEnv(t, open(), lim, clk)
	a.user("owner@school.org", "Owner", false)
	for i, node := range []*env{a, b, a, b, a} {
		if res := login(node, "owner@school.org", "wrong password"); res.status != 401 {
			t.Fatalf("wrong password %d: %d %s", i+1, res.status, res.body)
		}
	}
	want429(t, login(b, "owner@school.org", "a long enough password"), 1)
	restarted := limitedEnv(t, open(), lim, clk)
	want429(t, login(restarted, "owner@school.org", "a long enough password"), 1)
	clk.advance(time.Second)
	if res := login(restarted, "owner@school.org", "a long enough password"); res.status != 200 {
		t.Fatalf("after the wait: %d %s", res.status, res.body)
	}
}

// signInFlood is how many wrong sign-ins TestSignInFloodKeepsMemoryFlat
// sends at once; each unthrottled one would hash with 19 MiB.
const signInFlood = 300

// floodHeapBound is the growth of the heap in use the flood may cause. With
// the fix it measures 160–270 MiB: two hashes are live at a time, but each
// leaves 19 MiB of garbage and the GC, pacing itself on a heap that grows
// by 19 MiB steps, lets a few hundred MiB build up before it collects.
// Without the fix 60 requests already grew it by 1.2 GiB, 300 by ~5.7 GiB.
const floodHeapBound = 512 << 20

// TestSignInFloodKeepsMemoryFlat fires 300 concurrent sign-ins with wrong
// passwords (a spray over 300 emails, from one address) at the real HTTP
// handler and samples the heap meanwhile. Unbounded, every request hashes
// at once (300 × 19 MiB ≈ 5.7 GB); counted before hashing and with the
// hashes bounded, the heap stays far below the generous bound
// (floodHeapBound). It does not
// run in parallel, so that other tests do not move the heap.
func TestSignInFloodKeepsMemoryFlat(t *testing.T) {
	clk := newTestClock()
	e := limitedEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), DefaultLimits(), clk)
	e.user("owner@school.org", "Owner", false)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	for i := range signInFlood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/auth/login",
				strings.NewReader(fmt.Sprintf(`{"email":"guess%d@school.org","password":"wrong password"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if (res.StatusCode == 429 || res.StatusCode == 503) && res.Header.Get("Retry-After") == "" {
				t.Errorf("a %d without Retry-After", res.StatusCode)
			}
			mu.Lock()
			statuses[res.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	<-sampled

	growth := int64(peak.Load()) - int64(base)
	t.Logf("heap in use grew by %d MiB at most; statuses %v", growth>>20, statuses)
	if growth > floodHeapBound {
		t.Errorf("heap in use grew by %d MiB under %d concurrent sign-ins, want under %d MiB", growth>>20, signInFlood, floodHeapBound>>20)
	}
	for status := range statuses {
		if status != 401 && status != 429 && status != 503 {
			t.Errorf("%d answers with status %d", statuses[status], status)
		}
	}
	if statuses[429] == 0 {
		t.Errorf("none of %d wrong sign-ins from one address was throttled", signInFlood)
	}
	// The owner is not locked out by the flood (it guessed other emails).
	clk.advance(time.Hour)
	if res := login(e, "owner@school.org", "a long enough password"); res.status != 200 {
		t.Fatalf("the owner after the flood: %d %s", res.status, res.body)
	}
}
