package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// sessionFrom reads the session and CSRF cookies an answer set.
func sessionFrom(t *testing.T, res response) accounts.Session {
	t.Helper()
	var se accounts.Session
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		switch c.Name {
		case accounts.SessionCookie:
			se.Token = c.Value
		case accounts.CSRFCookie:
			se.CSRFToken = c.Value
		}
	}
	if se.Token == "" {
		t.Fatalf("no session cookie set: %d %s", res.status, res.body)
	}
	return se
}

// bearer sends a request with an API token and nothing else.
func (e *env) bearer(token, method, path, body string, headers map[string]string) response {
	e.t.Helper()
	h := map[string]string{"Authorization": "Bearer " + token}
	for k, v := range headers {
		h[k] = v
	}
	return e.doWith(person{}, method, path, body, h)
}

// TestSignInRotatesSession: every way of signing in ends the session the
// browser came with, so a session cookie planted in a browser, or left by
// the previous person at a shared computer, never becomes (or stays) a
// signed-in session next to the new one.
func TestSignInRotatesSession(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(Migrations()...) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d.Open(t))
			// First run: a planted cookie is not adopted by setup.
			planted := person{session: accounts.Session{Token: "planted-session-value", CSRFToken: "x"}}
			res := e.do(planted, "POST", "/api/v1/setup", `{"email":"head@school.org","name":"Head","password":"first admin pass"}`)
			if res.status != 201 {
				t.Fatalf("setup: %d %s", res.status, res.body)
			}
			if se := sessionFrom(t, res); se.Token == planted.session.Token {
				t.Fatal("setup adopted the planted session id")
			}
			if res := e.do(planted, "GET", "/api/v1/me", ""); res.status != 401 {
				t.Fatalf("planted cookie after setup: %d", res.status)
			}

			// Login while carrying a live session (someone else's, or one's own
			// older one): that session ends.
			for _, tc := range []struct{ name, carrier, signer string }{
				{"own session", "ann@school.org", "ann@school.org"},
				{"previous person's session", "bob@school.org", "ann@school.org"},
			} {
				for _, email := range []string{tc.carrier, tc.signer} {
					if _, err := e.srv.Accounts.CreateUser(context.Background(), accounts.NewUser{Email: email, Name: email[:3], Password: "a long enough password"}, false); err != nil && !strings.Contains(err.Error(), "already exists") {
						t.Fatal(err)
					}
				}
				var carrierID string
				us, _ := e.srv.Accounts.Users(context.Background())
				for _, u := range us {
					if u.Email == tc.carrier {
						carrierID = u.ID
					}
				}
				old, err := e.srv.Accounts.CreateSession(context.Background(), carrierID, "shared computer")
				if err != nil {
					t.Fatal(err)
				}
				before := person{session: old}
				res := e.do(before, "POST", "/api/v1/auth/login", `{"email":"`+tc.signer+`","password":"a long enough password"}`)
				if res.status != 200 {
					t.Fatalf("%s: login: %d %s", tc.name, res.status, res.body)
				}
				after := person{session: sessionFrom(t, res)}
				if after.session.Token == old.Token {
					t.Fatalf("%s: login kept the session id", tc.name)
				}
				if res := e.do(before, "GET", "/api/v1/me", ""); res.status != 401 {
					t.Errorf("%s: the session carried into the login still works: %d %s", tc.name, res.status, res.body)
				}
				if res := e.do(after, "GET", "/api/v1/me", ""); res.status != 200 || !strings.Contains(res.body, tc.signer) {
					t.Errorf("%s: the new session: %d %s", tc.name, res.status, res.body)
				}
			}

			// Accepting an invitation as a newcomer, with a stale cookie: a new
			// session, and the stale one is gone from the database.
			ann := e.user("cara@school.org", "Cara", false)
			g, err := e.srv.Accounts.CreateGroup(context.Background(), ann.user.Actor("session"), accounts.GroupInput{Name: "G"})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := e.srv.Accounts.CreateInvitation(context.Background(), ann.user.Actor("session"), g.ID, accounts.InvitationInput{Role: accounts.RolePeer})
			if err != nil {
				t.Fatal(err)
			}
			stale, _ := e.srv.Accounts.CreateSession(context.Background(), ann.user.ID, "stale")
			if _, err := e.db.Writer().Exec(context.Background(), `UPDATE sessions SET expires_at = 1 WHERE id = ?`, stale.ID); err != nil {
				t.Fatal(err)
			}
			res = e.do(person{session: stale}, "POST", "/api/v1/invitations/"+inv.Token+"/accept", `{"email":"dan@school.org","name":"Dan","password":"a long enough password"}`)
			if res.status != 200 {
				t.Fatalf("accept: %d %s", res.status, res.body)
			}
			if se := sessionFrom(t, res); se.Token == stale.Token {
				t.Fatal("accepting kept the stale session id")
			}
			var n int
			if err := e.db.Reader().QueryRow(context.Background(), `SELECT COUNT(*) FROM sessions WHERE id = ?`, stale.ID).Scan(&n); err != nil || n != 0 {
				t.Errorf("the stale session is still stored (%d, %v)", n, err)
			}
		})
	}
}

// TestSessionsOverHTTP: the list (this session marked, no secrets),
// signing one browser out, signing out everywhere else (which revokes the
// tokens too), and the password change revoking tokens.
func TestSessionsOverHTTP(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(Migrations()...) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d.Open(t))
			ctx := context.Background()
			me := e.user("me@school.org", "Mia", false)
			phone, _ := e.srv.Accounts.StartSession(ctx, accounts.NewSession{UserID: me.user.ID, UserAgent: "Safari on iPhone", ClientIP: "192.0.2.7"})
			laptop, _ := e.srv.Accounts.StartSession(ctx, accounts.NewSession{UserID: me.user.ID, UserAgent: "Firefox"})
			other := e.user("other@school.org", "Oli", false)

			res := e.do(me, "GET", "/api/v1/me/sessions", "")
			var list struct {
				Sessions []accounts.SessionInfo `json:"sessions"`
			}
			res.json(t, &list)
			if res.status != 200 || len(list.Sessions) != 3 {
				t.Fatalf("list: %d %s", res.status, res.body)
			}
			for _, s := range list.Sessions {
				if s.Current != (s.ID == me.session.ID) {
					t.Errorf("current mark wrong: %+v", s)
				}
				if s.ID == phone.ID && (s.UserAgent != "Safari on iPhone" || s.ClientIP != "192.0.2.7") {
					t.Errorf("phone: %+v", s)
				}
			}
			for _, secret := range []string{me.session.Token, phone.Token, me.session.CSRFToken} {
				if strings.Contains(res.body, secret) {
					t.Fatalf("the list shows a session secret: %s", res.body)
				}
			}

			// One browser signed out; not someone else's.
			if res := e.do(other, "DELETE", "/api/v1/me/sessions/"+phone.ID, ""); res.status != 404 {
				t.Errorf("someone else revoking my session: %d %s", res.status, res.body)
			}
			if res := e.do(me, "DELETE", "/api/v1/me/sessions/"+phone.ID, ""); res.status != 204 {
				t.Fatalf("revoke: %d %s", res.status, res.body)
			}
			if res := e.do(person{session: phone}, "GET", "/api/v1/me", ""); res.status != 401 {
				t.Errorf("revoked phone session: %d", res.status)
			}

			// Everywhere else: the laptop and the token end, this browser stays.
			tok, _ := e.srv.Accounts.IssueToken(ctx, me.user.ID, accounts.TokenInput{Name: "sync", Scope: accounts.ScopeFull})
			if res := e.bearer(tok.Token, "GET", "/api/v1/me", "", nil); res.status != 200 {
				t.Fatalf("token before: %d", res.status)
			}
			res = e.do(me, "POST", "/api/v1/me/sessions/revoke-others", "")
			if res.status != 200 || !strings.Contains(res.body, `"revoked":{"sessions":1,"tokens":1}`) {
				t.Fatalf("revoke others: %d %s", res.status, res.body)
			}
			if res := e.do(person{session: laptop}, "GET", "/api/v1/me", ""); res.status != 401 {
				t.Errorf("laptop after sign out everywhere: %d", res.status)
			}
			if res := e.bearer(tok.Token, "GET", "/api/v1/me", "", nil); res.status != 401 || !strings.Contains(res.body, "invalid_token") {
				t.Errorf("token after sign out everywhere: %d %s", res.status, res.body)
			}
			if res := e.do(me, "GET", "/api/v1/me", ""); res.status != 200 {
				t.Errorf("this browser after sign out everywhere else: %d", res.status)
			}
			if res := e.do(other, "GET", "/api/v1/me", ""); res.status != 200 {
				t.Errorf("another user's session after my sign out everywhere: %d", res.status)
			}

			// A password change revokes tokens.
			tok, _ = e.srv.Accounts.IssueToken(ctx, me.user.ID, accounts.TokenInput{Name: "sync", Scope: accounts.ScopeRead})
			if res := e.do(me, "POST", "/api/v1/me/password", `{"current_password":"a long enough password","new_password":"another long password"}`); res.status != 204 {
				t.Fatalf("password: %d %s", res.status, res.body)
			}
			if res := e.bearer(tok.Token, "GET", "/api/v1/me", "", nil); res.status != 401 {
				t.Errorf("token after a password change: %d %s", res.status, res.body)
			}

			// Signing this browser out from the list clears its cookies.
			res = e.do(me, "DELETE", "/api/v1/me/sessions/"+me.session.ID, "")
			if res.status != 204 || !strings.Contains(strings.Join(res.header.Values("Set-Cookie"), "\n"), accounts.SessionCookie+"=;") {
				t.Errorf("revoking this session: %d %v", res.status, res.header.Values("Set-Cookie"))
			}
			if res := e.do(me, "GET", "/api/v1/me", ""); res.status != 401 {
				t.Errorf("this browser after revoking itself: %d", res.status)
			}
		})
	}
}

// TestTokenScopesOverHTTP runs every route of the authorization matrix with
// a token of each scope: credential routes refuse every token, a read
// token only reads, an upload token reads and uploads, full does all. It
// checks the policy where it is enforced (Authenticate, against the real
// route patterns), not only as a table.
func TestTokenScopesOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	owner := w.people["owner"]
	uploadWrites := map[string]bool{
		"POST /api/v1/uploads": true, "POST /api/v1/uploads/": true, "PATCH /api/v1/uploads/*": true,
		"DELETE /api/v1/uploads/*": true, "PATCH /api/v1/clips/:id": true,
	}
	for _, r := range matrixRoutes() {
		key := r.method + " " + r.pattern
		safe := r.method == "GET" || r.method == "HEAD" || r.method == "OPTIONS"
		credential := strings.HasPrefix(r.pattern, "/api/v1/me/tokens") || strings.HasPrefix(r.pattern, "/api/v1/me/sessions") || r.pattern == "/api/v1/me/password" ||
			key == "DELETE /api/v1/me"
		for _, scope := range []accounts.Scope{accounts.ScopeRead, accounts.ScopeUpload, accounts.ScopeFull} {
			var want string // "" allowed, else the refusal's code
			switch {
			case credential:
				want = "token_not_allowed"
			case scope == accounts.ScopeFull:
			case key == "GET /api/v1/clips/:id/live", key == "GET /api/v1/me/export", key == "GET /api/v1/clips/:id/redaction/original":
				want = "token_scope"
			case safe, scope == accounts.ScopeUpload && uploadWrites[key]:
			default:
				want = "token_scope"
			}
			tok, err := w.srv.Accounts.IssueToken(context.Background(), owner.user.ID, accounts.TokenInput{Name: "matrix", Scope: scope})
			if err != nil {
				t.Fatal(err)
			}
			path := w.expand(r.path)
			if r.prepare != nil {
				path = r.prepare(w, "owner")
			}
			b := ""
			if r.body != nil {
				b = r.body(w)
			}
			res := w.bearer(tok.Token, r.method, path, b, r.headers)
			refused := res.status == 403 && (strings.Contains(res.body, `"token_scope"`) || strings.Contains(res.body, `"token_not_allowed"`))
			switch {
			case want == "" && refused:
				t.Errorf("%s with a %s token was refused: %s", key, scope, res.body)
			case want != "" && (res.status != 403 || !strings.Contains(res.body, `"`+want+`"`)):
				t.Errorf("%s with a %s token: %d %s, want 403 %s", key, scope, res.status, res.body, want)
			case want == "token_not_allowed" && !strings.Contains(res.body, "use the web app signed in with your password"):
				t.Errorf("%s: the refusal does not say what to do: %s", key, res.body)
			}
		}
	}
	// Every write an upload token may make is a real route (a renamed route
	// would otherwise silently fall out of the upload scope).
	routes := map[string]bool{}
	for _, rt := range w.srv.Echo().Routes() {
		routes[rt.Method+" "+rt.Path] = true
	}
	for _, r := range accounts.TokenUploadRoutes() {
		method, pattern, _ := strings.Cut(r, " ")
		if !routes[method+" "+accounts.APIPrefix+pattern] {
			t.Errorf("the upload scope names %s, which is not a route", r)
		}
		if !uploadWrites[method+" "+accounts.APIPrefix+pattern] {
			t.Errorf("the upload scope allows %s, which this test does not expect", r)
		}
	}
}

// TestExpiredTokenOverHTTP: an expired token is refused with a message
// that names the expiry, so the script's owner knows what happened.
func TestExpiredTokenOverHTTP(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	me := e.user("me@school.org", "Mia", false)
	res := e.do(me, "POST", "/api/v1/me/tokens", `{"name":"nightly","scope":"read","expires_in_days":7}`)
	var created struct {
		Token accounts.APIToken `json:"token"`
	}
	res.json(t, &created)
	if res.status != 201 || created.Token.Scope != "read" || created.Token.ExpiresAt.Sub(created.Token.CreatedAt).Hours() != 7*24 {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	if res := e.bearer(created.Token.Token, "GET", "/api/v1/me", "", nil); res.status != 200 {
		t.Fatalf("fresh token: %d %s", res.status, res.body)
	}
	if _, err := e.db.Writer().Exec(context.Background(), `UPDATE api_tokens SET expires_at = ? WHERE id = ?`, int64(1767225600000), created.Token.ID); err != nil {
		t.Fatal(err)
	}
	res = e.bearer(created.Token.Token, "GET", "/api/v1/me", "", nil)
	if res.status != 401 || !strings.Contains(res.body, "token_expired") || !strings.Contains(res.body, "expired on 2026-01-01") {
		t.Errorf("expired token: %d %s", res.status, res.body)
	}
	res = e.do(me, "GET", "/api/v1/me/tokens", "")
	if !strings.Contains(res.body, `"expired":true`) || !strings.Contains(res.body, `"scope":"read"`) {
		t.Errorf("the list does not show the token as expired: %s", res.body)
	}
	for _, body := range []string{`{"name":"x"}`, `{"name":"x","scope":"read","expires_in_days":0.5}`, `{"name":"x","scope":"read","expires_in_days":1000}`} {
		if res := e.do(me, "POST", "/api/v1/me/tokens", body); res.status != 400 {
			t.Errorf("create %s: %d %s", body, res.status, res.body)
		}
	}
}
