package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestSecurityHeaders: the page may talk to this site, its own websocket
// origin and the media store only; behind https browsers get HSTS.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	for _, tc := range []struct {
		base, ws string
		hsts     bool
	}{
		{"http://filmroom.test", "ws://filmroom.test", false},
		{"https://filmroom.example", "wss://filmroom.example", true},
	} {
		e := newEnvWith(t, db, func(c *Config) { c.BaseURL = tc.base })
		res := e.do(person{}, "GET", "/healthz", "")
		csp := res.header.Get("Content-Security-Policy")
		for _, dir := range []string{"img-src", "media-src", "connect-src"} {
			d := directive(csp, dir)
			if d == "" {
				t.Fatalf("%s: no %s in %q", tc.base, dir, csp)
			}
			for _, src := range strings.Fields(d)[1:] {
				if src == "https:" || src == "http:" || src == "ws:" || src == "wss:" || src == "*" {
					t.Errorf("%s: %s allows any host (%q)", tc.base, dir, d)
				}
			}
		}
		if !strings.Contains(directive(csp, "connect-src"), tc.ws) {
			t.Errorf("%s: connect-src %q lacks %s", tc.base, directive(csp, "connect-src"), tc.ws)
		}
		hsts := res.header.Get("Strict-Transport-Security")
		if tc.hsts && hsts != "max-age=31536000; includeSubDomains" || !tc.hsts && hsts != "" {
			t.Errorf("%s: HSTS %q", tc.base, hsts)
		}
	}
}

func directive(csp, name string) string {
	for _, d := range strings.Split(csp, ";") {
		if d = strings.TrimSpace(d); strings.HasPrefix(d, name+" ") {
			return d
		}
	}
	return ""
}

// TestMediaOriginInCSP: with media on S3 the store's origin (and only it)
// is added for images, media and fetches.
func TestMediaOriginInCSP(t *testing.T) {
	t.Parallel()
	store := testsvc.MinIO(t)
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	e := newEnvWith(t, db, func(c *Config) {
		c.S3Endpoint, c.S3Region, c.S3Bucket, c.S3AccessKey, c.S3SecretKey, c.S3PathStyle = store.Endpoint, store.Region, store.Bucket, store.AccessKey, store.SecretKey, true
	})
	csp := e.do(person{}, "GET", "/healthz", "").header.Get("Content-Security-Policy")
	origin := strings.TrimRight(store.Endpoint, "/")
	for _, dir := range []string{"img-src", "media-src", "connect-src"} {
		if !strings.Contains(directive(csp, dir), " "+origin) {
			t.Errorf("%s %q lacks the store's origin %s", dir, directive(csp, dir), origin)
		}
	}
}

// TestAPINoStore: JSON answers (successes and errors) are not cached;
// handlers that chose their own caching keep it, and it is private.
func TestAPINoStore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.annotationBy("coach")
	for _, tc := range []struct {
		who, path, want string
	}{
		{"owner", "/api/v1/me", "no-store"},
		{"owner", "/api/v1/clips?scope=all", "no-store"},
		{"owner", "/api/v1/groups", "no-store"},
		{"anonymous", "/api/v1/me", "no-store"},
		{"owner", "/api/v1/nothing-here", "no-store"},
		{"outsider", "/api/v1/clips/{C}", "no-store"},
		{"owner", "/api/v1/clips/{C}/annotations", "private, no-cache"},
		{"owner", "/api/v1/clips/{C}/media/720p/index.m3u8", "private, no-store"},
	} {
		res := w.do(w.people[tc.who], "GET", w.expand(tc.path), "")
		if got := res.header.Get("Cache-Control"); got != tc.want {
			t.Errorf("%s %s: Cache-Control %q, want %q (status %d)", tc.who, tc.path, got, tc.want, res.status)
		}
	}
}

// TestMetricsNotPublic: /metrics is not on the public address unless a
// token guards it; the separate listener's handler serves it.
func TestMetricsNotPublic(t *testing.T) {
	t.Parallel()
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	get := func(e *env, token string) response {
		req, _ := http.NewRequest("GET", e.ts.URL+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return e.raw(req)
	}
	plain := newEnvWith(t, db, nil)
	if res := get(plain, ""); res.status != 404 {
		t.Errorf("default: public /metrics %d", res.status)
	}
	sep := newEnvWith(t, db, func(c *Config) { c.MetricsListen = "127.0.0.1:0" })
	if res := get(sep, ""); res.status != 404 {
		t.Errorf("with --metrics-listen: public /metrics %d", res.status)
	}
	withToken := newEnvWith(t, db, func(c *Config) { c.MetricsToken = "scrape-secret" })
	if res := get(withToken, ""); res.status != 401 {
		t.Errorf("token set, none sent: %d", res.status)
	}
	if res := get(withToken, "wrong"); res.status != 401 {
		t.Errorf("wrong token: %d", res.status)
	}
	if res := get(withToken, "scrape-secret"); res.status != 200 || !strings.Contains(res.body, "filmroom_http_requests_total") {
		t.Errorf("right token: %d %.200s", res.status, res.body)
	}
}

// TestServeMetricsListen: "filmroom serve --metrics-listen" serves the
// metrics on their own address and answers 404 for them on the public one.
func TestServeMetricsListen(t *testing.T) {
	t.Parallel()
	public, metrics := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- cmdServe(ctx, []string{"--data-dir", t.TempDir(), "--listen", public, "--metrics-listen", metrics,
			"--captions-engine", "none", "--workers", "0"}, io.Discard, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, stderr.String())
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := http.Get("http://" + metrics + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(body), "filmroom_live_clients") {
				t.Fatalf("metrics listener: %d %.200s", res.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics listener never answered: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		res, err := http.Get("http://" + public + "/metrics")
		if err == nil {
			res.Body.Close()
			if res.StatusCode != 404 {
				t.Fatalf("public /metrics: %d", res.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the public listener never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// logRecorder keeps the records a server logs at error level.
type logRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (l *logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}
