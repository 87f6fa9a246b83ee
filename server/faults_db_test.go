package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// loadResult counts what a load of signed-in requests got back.
type loadResult struct {
	mu       sync.Mutex
	ok       int // 2xx
	okAfter  int // 2xx after mark was set
	mark     bool
	down     int      // 503 with the JSON error and Retry-After
	problems []string // anything else: 500s, other codes, hangs, bad bodies
}

func (r *loadResult) add(status int, hdr http.Header, body string, err error, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		r.problems = append(r.problems, fmt.Sprintf("%s: %v", what, err))
	case status >= 200 && status < 300:
		r.ok++
		if r.mark {
			r.okAfter++
		}
	case status == http.StatusServiceUnavailable:
		var eb struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal([]byte(body), &eb) != nil || eb.Error.Code != "database_unavailable" || eb.Error.Message == "" {
			r.problems = append(r.problems, fmt.Sprintf("%s: 503 without the JSON error: %s", what, body))
		} else if hdr.Get("Retry-After") == "" {
			r.problems = append(r.problems, what+": 503 without Retry-After")
		} else {
			r.down++
		}
	default:
		r.problems = append(r.problems, fmt.Sprintf("%s: %d %s", what, status, body))
	}
}

func (r *loadResult) counts() (ok, okAfter, down int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, r.okAfter, r.down
}

// TestPostgresStoppedUnderLoad stops a private PostgreSQL server while
// signed-in clients read and write through a running filmroom, and starts
// it again. While it is down every request ends at once with 503, a JSON
// error and Retry-After (no 500, no hang, nobody signed out), /readyz says
// the database is unavailable; once it is back the same server answers
// again without a restart.
func TestPostgresStoppedUnderLoad(t *testing.T) {
	t.Parallel()
	pg := testsvc.StartPrivatePostgres(t)
	ctx := context.Background()
	db, err := sqldb.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Up(ctx, Migrations()); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, db)
	owner := e.user("teacher@example.org", "Tess", false)
	clip := e.clip(owner, "Lesson", "")

	client := &http.Client{Timeout: time.Minute} // a hang shows as a problem, not a stuck test
	send := func(method, path, body string) (int, http.Header, string, error) {
		req, _ := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: owner.session.Token})
		req.Header.Set(accounts.CSRFHeader, owner.session.CSRFToken)
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		for _, c := range res.Cookies() {
			if c.Name == accounts.SessionCookie && c.MaxAge < 0 {
				return res.StatusCode, res.Header, string(b), fmt.Errorf("the server cleared the session cookie (%d %s)", res.StatusCode, b)
			}
		}
		return res.StatusCode, res.Header, string(b), nil
	}
	requests := []struct{ method, path, body string }{
		{"GET", "/api/v1/me", ""},
		{"GET", "/api/v1/clips", ""},
		{"GET", "/api/v1/clips/" + clip.ID, ""},
		{"POST", "/api/v1/clips/" + clip.ID + "/annotations", `{"start_ms":1500,"body":"Clear instructions","kind":"note","visibility":"audience"}`},
	}
	var res loadResult
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := requests[i%len(requests)]
				status, hdr, body, err := send(r.method, r.path, r.body)
				res.add(status, hdr, body, err, r.method+" "+r.path)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	stopLoad := func() {
		select {
		case <-stop:
		default:
			close(stop)
			wg.Wait()
		}
	}
	t.Cleanup(stopLoad)
	readyz := func() int {
		r, err := client.Get(e.ts.URL + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		r.Body.Close()
		return r.StatusCode
	}

	waitFor(t, "requests to succeed under load", time.Minute, func() bool { ok, _, _ := res.counts(); return ok >= 20 })
	pg.Stop()
	waitFor(t, "requests to answer 503 while PostgreSQL is down", 2*time.Minute, func() bool { _, _, down := res.counts(); return down >= 20 })
	if got := readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the database down: %d, want 503", got)
	}
	res.mu.Lock()
	res.mark = true
	res.mu.Unlock()
	pg.Start()
	waitFor(t, "requests to succeed again after PostgreSQL is back", 2*time.Minute, func() bool { _, after, _ := res.counts(); return after >= 20 })
	if got := readyz(); got != http.StatusOK {
		t.Fatalf("/readyz with the database back: %d, want 200", got)
	}
	stopLoad()
	ok, after, down := res.counts()
	t.Logf("%d requests succeeded (%d after the restart), %d answered 503", ok, after, down)
	for _, p := range res.problems {
		t.Error(p)
	}
}
