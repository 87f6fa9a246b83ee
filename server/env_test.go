package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// env is a running server over a real database, with helpers to act as
// different people.
type env struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
	db  *sqldb.DB
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEnv(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	return newEnvWith(t, db, nil)
}

// newEnvWith is newEnv with a changed configuration.
func newEnvWith(t *testing.T, db *sqldb.DB, change func(*Config)) *env {
	t.Helper()
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: t.TempDir(), Migrate: true}
	if change != nil {
		change(&cfg)
	}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close(context.Background())
	})
	return &env{t: t, srv: srv, ts: ts, db: db}
}

func sqliteEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, testsvc.Databases(Migrations()...)[0].Open(t))
}

// person is a signed-in browser (or nobody, when session is empty), or a
// script holding an API token (bearer).
type person struct {
	user    accounts.User
	session accounts.Session
	bearer  string
}

func (e *env) user(email, name string, admin bool) person {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.srv.Accounts.CreateUser(ctx, accounts.NewUser{Email: email, Name: name, Password: "a long enough password"}, admin)
	if err != nil {
		e.t.Fatal(err)
	}
	se, err := e.srv.Accounts.CreateSession(ctx, u.ID, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return person{user: u, session: se}
}

type response struct {
	status int
	body   string
	header http.Header
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// do sends a request as p with the session cookie and CSRF header.
func (e *env) do(p person, method, path, body string) response {
	e.t.Helper()
	return e.doWith(p, method, path, body, nil)
}

// doWith is do with extra headers; a Content-Type among them replaces JSON.
func (e *env) doWith(p person, method, path, body string, headers map[string]string) response {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if p.session.Token != "" {
		req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: p.session.Token})
		// A CSRF header among headers (even an empty one) replaces the
		// session's: the attack suite forges them.
		if _, forged := headers[accounts.CSRFHeader]; !forged {
			req.Header.Set(accounts.CSRFHeader, p.session.CSRFToken)
		}
	}
	if p.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+p.bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), header: res.Header}
}

func (e *env) raw(req *http.Request) response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(b), header: res.Header}
}

func (e *env) clip(owner person, title string, groupID string) media.Clip {
	e.t.Helper()
	c, err := e.srv.Clips.Create(context.Background(), owner.user.Actor("session"), media.NewClip{Title: title, GroupID: groupID})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

var _ = time.Second

func newTestServer(t *testing.T, srv *Server) *httptest.Server {
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close(context.Background())
	})
	return ts
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
