package server

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

func TestBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	owner := w.people["owner"]
	expired, err := w.srv.Accounts.CreateInvitation(context.Background(), w.people["facilitator"].user.Actor("session"), w.g, accounts.InvitationInput{Role: accounts.RolePeer, ExpiresInHours: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.Writer().Exec(context.Background(), `UPDATE invitations SET expires_at = 0 WHERE id = ?`, expired.ID); err != nil {
		t.Fatal(err)
	}
	users, err := w.srv.Accounts.UserCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		who          person
		method, path string
		body         string
		noCSRF       bool
		status       int
		want         string
	}{
		{"wrong password", person{}, "POST", "/api/v1/auth/login", `{"email":"owner@example.org","password":"not my password"}`, false, 401, "invalid_credentials"},
		{"unknown email looks the same", person{}, "POST", "/api/v1/auth/login", `{"email":"ghost@example.org","password":"not my password"}`, false, 401, "invalid_credentials"},
		{"malformed JSON", owner, "POST", "/api/v1/groups", `{"name": "x"`, false, 400, "invalid_json"},
		{"empty body", owner, "POST", "/api/v1/groups", ``, false, 400, "invalid_json"},
		{"unknown field", owner, "POST", "/api/v1/groups", `{"name":"x","colour":"red"}`, false, 400, `"colour":"is not a field this request accepts"`},
		{"wrong type", owner, "POST", "/api/v1/groups", `{"name":42}`, false, 400, `"name":"must be a string"`},
		{"two JSON values", owner, "POST", "/api/v1/groups", `{"name":"x"}{"name":"y"}`, false, 400, "after the JSON object"},
		{"oversized JSON", owner, "POST", "/api/v1/groups", `{"name":"` + strings.Repeat("x", 2<<20) + `"}`, false, 413, "body_too_large"},
		{"missing CSRF token", owner, "POST", "/api/v1/groups", `{"name":"x"}`, true, 403, "csrf_failed"},
		{"someone else's clip", w.people["outsider"], "GET", "/api/v1/clips/{C}", ``, false, 404, "clip not found"},
		{"garbage clip ID", owner, "GET", "/api/v1/clips/../../etc/passwd", ``, false, 404, "not_found"},
		{"expired invitation", person{}, "POST", "/api/v1/invitations/" + expired.Token + "/accept", `{"email":"late@example.org","name":"Late","password":"long enough pass"}`, false, 410, "invitation_expired"},
		{"unknown invitation", person{}, "GET", "/api/v1/invitations/nope", ``, false, 404, "invitation not found"},
		{"duplicate email on sign-up", person{}, "POST", "/api/v1/invitations/" + w.freshInvitation() + "/accept", `{"email":"coach@example.org","name":"Again","password":"long enough pass"}`, false, 400, "already exists"},
		{"invalid role", w.people["coach"], "POST", "/api/v1/groups/{G}/invitations", `{"role":"principal"}`, false, 400, `"role":"choose teacher`},
		{"empty group name", owner, "POST", "/api/v1/groups", `{"name":"   "}`, false, 400, `"name":"give the group a name`},
		{"bad bearer token", person{}, "GET", "/api/v1/me", ``, false, 401, "invalid_token"},
		{"unknown route", owner, "GET", "/api/v1/nothing-here", ``, false, 404, "no API route"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, w.ts.URL+w.expand(tc.path), strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.who.session.Token != "" {
				req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: tc.who.session.Token})
				if !tc.noCSRF {
					req.Header.Set(accounts.CSRFHeader, tc.who.session.CSRFToken)
				}
			}
			if tc.name == "bad bearer token" {
				req.Header.Set("Authorization", "Bearer frt_forged")
			}
			res := w.raw(req)
			if res.status != tc.status || !strings.Contains(res.body, tc.want) {
				t.Errorf("status %d body %s; want %d containing %q", res.status, res.body, tc.status, tc.want)
			}
		})
	}
	if n, _ := w.srv.Accounts.UserCount(context.Background()); n != users {
		t.Errorf("bad input created accounts: %d users, want %d", n, users)
	}
}

func TestSessionFlowOverHTTP(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	res := e.do(person{}, "GET", "/api/v1/setup", "")
	if !strings.Contains(res.body, `"needed":true`) {
		t.Fatalf("setup status on an empty site: %s", res.body)
	}
	res = e.do(person{}, "POST", "/api/v1/setup", `{"email":"head@school.org","name":"Head","password":"first admin pass"}`)
	if res.status != 201 {
		t.Fatalf("setup: %d %s", res.status, res.body)
	}
	var session, csrf *http.Cookie
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		switch c.Name {
		case accounts.SessionCookie:
			session = c
		case accounts.CSRFCookie:
			csrf = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || csrf == nil || csrf.HttpOnly {
		t.Fatalf("cookies: session %+v csrf %+v", session, csrf)
	}
	p := person{session: accounts.Session{Token: session.Value, CSRFToken: csrf.Value}}
	if res := e.do(p, "GET", "/api/v1/me", ""); !strings.Contains(res.body, "head@school.org") {
		t.Fatalf("me: %s", res.body)
	}
	// A token works without cookies or CSRF, for scripts.
	res = e.do(p, "POST", "/api/v1/me/tokens", `{"name":"export script","scope":"full"}`)
	var tok struct {
		Token accounts.APIToken `json:"token"`
	}
	res.json(t, &tok)
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/v1/groups", strings.NewReader(`{"name":"Scripted"}`))
	req.Header.Set("Authorization", "Bearer "+tok.Token.Token)
	if res := e.raw(req); res.status != 201 {
		t.Fatalf("group by token: %d %s", res.status, res.body)
	}
	// A page of another site cannot post with the user's cookies.
	req, _ = http.NewRequest("POST", e.ts.URL+"/api/v1/groups", strings.NewReader(`{"name":"Evil"}`))
	req.Header.Set("Origin", "https://evil.example")
	req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: session.Value})
	req.Header.Set(accounts.CSRFHeader, csrf.Value)
	if res := e.raw(req); res.status != 403 || !strings.Contains(res.body, "bad_origin") {
		t.Fatalf("cross-site post: %d %s", res.status, res.body)
	}
	if res := e.do(p, "POST", "/api/v1/auth/logout", ""); res.status != 204 {
		t.Fatalf("logout: %d", res.status)
	}
	if res := e.do(p, "GET", "/api/v1/me", ""); res.status != 401 {
		t.Fatalf("me after logout: %d", res.status)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, testsvc.Databases(Migrations()...)[0].Open(t), func(c *Config) { c.MetricsToken = "scrape" })
	for _, tc := range []struct{ path, want string }{
		{"/healthz", `"ok"`},
		{"/readyz", `"ready"`},
		{"/metrics", "filmroom_http_requests_total"},
		{"/metrics", "filmroom_live_clients 0"},
	} {
		e.do(person{}, "GET", "/healthz", "")
		if res := e.doWith(person{}, "GET", tc.path, "", map[string]string{"Authorization": "Bearer scrape"}); res.status != 200 || !strings.Contains(res.body, tc.want) {
			t.Errorf("%s: %d %s", tc.path, res.status, res.body)
		}
	}
	if res := e.do(person{}, "GET", "/healthz", ""); res.header.Get("X-Request-Id") == "" {
		t.Error("no request ID header")
	}
}

func TestStaticAppCaching(t *testing.T) {
	t.Parallel()
	db := sqliteEnv(t).db
	cfg := Config{BaseURL: "http://filmroom.test", DataDir: t.TempDir(), Migrate: true}
	dist := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>filmroom</title>")},
		"assets/app-1a2b3c.js": {Data: []byte("console.log(1)")},
		"favicon.svg":          {Data: []byte("<svg/>")},
	}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: discardLog(), Static: dist})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv}
	e.ts = newTestServer(t, srv)
	for _, tc := range []struct {
		path, cache, body string
		status            int
	}{
		{"/", "no-cache", "<title>filmroom</title>", 200},
		{"/groups/abc", "no-cache", "<title>filmroom</title>", 200},
		{"/assets/app-1a2b3c.js", "immutable", "console.log", 200},
		{"/favicon.svg", "no-cache", "<svg/>", 200},
		{"/assets/missing.js", "", "not_found", 404},
		{"/api/v1/missing", "", "no API route", 404},
	} {
		res := e.do(person{}, "GET", tc.path, "")
		if res.status != tc.status || !strings.Contains(res.header.Get("Cache-Control"), tc.cache) || !strings.Contains(res.body, tc.body) {
			t.Errorf("%s: %d cache %q body %q", tc.path, res.status, res.header.Get("Cache-Control"), res.body)
		}
	}
}

// TestCompression: the web app's scripts and the API's JSON are gzipped
// for browsers that ask; media never is (it is served with Range requests).
func TestCompression(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.allowDownloads(w.clip)
	for _, tc := range []struct {
		path string
		gzip bool
	}{
		{"/api/v1/groups", false}, // small answers are not worth it
		{"/api/v1/clips/{C}/media/720p/index.m3u8", false},
		{"/api/v1/clips/{C}/download", false},
	} {
		res := w.doWith(w.people["owner"], "GET", w.expand(tc.path), "", map[string]string{"Accept-Encoding": "gzip"})
		if got := res.header.Get("Content-Encoding") == "gzip"; got != tc.gzip || res.status != 200 {
			t.Errorf("%s: status %d, gzip %v, want %v", tc.path, res.status, got, tc.gzip)
		}
	}
	// A long JSON answer is compressed.
	for i := 0; i < 40; i++ {
		w.postJSON("owner", "POST", "/api/v1/groups", `{"name":"A cohort with a long enough name to make the list big"}`, nil)
	}
	res := w.doWith(w.people["owner"], "GET", "/api/v1/groups", "", map[string]string{"Accept-Encoding": "gzip"})
	if res.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("a long JSON list is not compressed: %v", res.header)
	}

	// The annotation views send their cached gzip, compressed once: the
	// body is the same JSON as the one sent to a client without gzip.
	for i := 0; i < 20; i++ {
		w.annotationBy("coach")
	}
	for _, path := range []string{"/api/v1/clips/{C}/annotations", "/api/v1/clips/{C}/summary"} {
		plain := w.doWith(w.people["owner"], "GET", w.expand(path), "", nil)
		if plain.status != 200 || plain.header.Get("Content-Encoding") != "" || !json.Valid([]byte(plain.body)) {
			t.Fatalf("%s without gzip: %d %v", path, plain.status, plain.header)
		}
		if len(plain.body) < 1024 { // small answers go as they are
			if res := w.doWith(w.people["owner"], "GET", w.expand(path), "", map[string]string{"Accept-Encoding": "gzip"}); res.header.Get("Content-Encoding") != "" || res.body != plain.body {
				t.Errorf("%s: a small answer was compressed: %v", path, res.header)
			}
			continue
		}
		for _, accept := range []string{"gzip", "br;q=1.0, gzip;q=0.8, *;q=0.1"} {
			res := w.doWith(w.people["owner"], "GET", w.expand(path), "", map[string]string{"Accept-Encoding": accept})
			zr, err := gzip.NewReader(strings.NewReader(res.body))
			if err != nil || res.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("%s (%s): %v %v", path, accept, res.header, err)
			}
			body, err := io.ReadAll(zr)
			if err != nil || string(body) != plain.body {
				t.Errorf("%s (%s): gunzipped body differs (%v):\n%.200s\n%.200s", path, accept, err, body, plain.body)
			}
			if !strings.Contains(res.header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s: Vary %q", path, res.header.Get("Vary"))
			}
		}
		if res := w.doWith(w.people["owner"], "GET", w.expand(path), "", map[string]string{"Accept-Encoding": "gzip;q=0, identity"}); res.header.Get("Content-Encoding") != "" || res.body != plain.body {
			t.Errorf("%s: gzip refused with q=0 but sent %v", path, res.header)
		}
	}
}
