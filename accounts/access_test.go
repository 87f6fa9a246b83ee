package accounts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// changes records what the OnAccessChange hook hears.
type changes struct {
	mu  sync.Mutex
	got []accounts.AccessChange
}

func (c *changes) hook(_ context.Context, ch accounts.AccessChange) {
	c.mu.Lock()
	c.got = append(c.got, ch)
	c.mu.Unlock()
}

func (c *changes) take() []accounts.AccessChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// actorVia runs a request through the Authenticate middleware and returns
// the actor it put in the context.
func actorVia(t *testing.T, svc *accounts.Service, set func(*http.Request)) accounts.Actor {
	t.Helper()
	e := echo.New()
	var a accounts.Actor
	h := accounts.NewHandler(svc, "http://filmroom.test").Authenticate()(func(c echo.Context) error {
		a, _ = accounts.ActorFrom(c.Request().Context())
		return nil
	})
	req := httptest.NewRequest("GET", "/api/v1/me", nil)
	set(req)
	if err := h(e.NewContext(req, httptest.NewRecorder())); err != nil {
		t.Fatal(err)
	}
	if a.UserID == "" {
		t.Fatal("no actor")
	}
	return a
}

// TestCredentialsAndAccessChanges: the actor remembers what authenticated
// it, CheckCredential answers for it as long as it holds, and every change
// that can take access away reaches the OnAccessChange hook.
func TestCredentialsAndAccessChanges(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, clk := setup(t, d)
			rec := &changes{}
			svc.OnAccessChange = rec.hook
			const pw = "correct horse battery"
			u, err := svc.CreateUser(ctx, accounts.NewUser{Email: "u@school.org", Name: "U", Password: pw}, false)
			if err != nil {
				t.Fatal(err)
			}
			other, err := svc.CreateUser(ctx, accounts.NewUser{Email: "o@school.org", Name: "O", Password: pw}, false)
			if err != nil {
				t.Fatal(err)
			}
			bySession := func(se accounts.Session) accounts.Actor {
				return actorVia(t, svc, func(r *http.Request) { r.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: se.Token}) })
			}
			gone := func(a accounts.Actor) bool {
				err := svc.CheckCredential(ctx, a)
				if err != nil && !errors.Is(err, apperr.ErrUnauthorized) {
					t.Fatalf("CheckCredential: %v", err)
				}
				return err != nil
			}
			session := func() (accounts.Session, accounts.Actor) {
				se, err := svc.CreateSession(ctx, u.ID, "test")
				if err != nil {
					t.Fatal(err)
				}
				return se, bySession(se)
			}

			se1, a1 := session()
			if !strings.HasPrefix(a1.Credential, "session:") || strings.Contains(a1.Credential, se1.Token) {
				t.Fatalf("session credential %q (must not carry the cookie)", a1.Credential)
			}
			if gone(a1) {
				t.Fatal("a fresh session is gone")
			}
			tok, err := svc.CreateToken(ctx, u.ID, "script")
			if err != nil {
				t.Fatal(err)
			}
			at := actorVia(t, svc, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) })
			if at.Credential != "token:"+tok.ID || gone(at) {
				t.Fatalf("token credential %q", at.Credential)
			}
			for _, tc := range []struct {
				name string
				a    accounts.Actor
				gone bool
			}{
				{"no credential (never made by Authenticate)", accounts.Actor{UserID: u.ID}, true},
				{"someone else's session", accounts.Actor{UserID: other.ID, Credential: a1.Credential}, true},
				{"someone else's token", accounts.Actor{UserID: other.ID, Credential: at.Credential}, true},
				{"unknown kind", accounts.Actor{UserID: u.ID, Credential: "cookie:x"}, true},
				{"unknown session", accounts.Actor{UserID: u.ID, Credential: "session:nope"}, true},
			} {
				if got := gone(tc.a); got != tc.gone {
					t.Errorf("%s: gone = %v", tc.name, got)
				}
			}
			if got := rec.take(); len(got) != 0 {
				t.Fatalf("hook heard %v before any change", got)
			}

			// Every ending of a credential is heard, and checked.
			if err := svc.DeleteSession(ctx, se1.Token); err != nil {
				t.Fatal(err)
			}
			if !gone(a1) {
				t.Error("signed-out session still holds")
			}
			if err := svc.DeleteToken(ctx, u.ID, tok.ID); err != nil {
				t.Fatal(err)
			}
			if !gone(at) {
				t.Error("deleted token still holds")
			}
			keep, aKeep := session()
			_, aOther := session()
			if err := svc.ChangePassword(ctx, u.ID, pw, "another long password", keep.Token); err != nil {
				t.Fatal(err)
			}
			if gone(aKeep) || !gone(aOther) {
				t.Errorf("after a password change: kept session gone %v, other gone %v", gone(aKeep), gone(aOther))
			}
			if err := svc.SetPassword(ctx, u.ID, "a reset long password"); err != nil {
				t.Fatal(err)
			}
			if !gone(aKeep) {
				t.Error("session survived a password reset")
			}
			_, aOld := session()
			clk.advance(svc.SessionTTL + 1)
			if !gone(aOld) {
				t.Error("expired session still holds")
			}
			userOnly := accounts.AccessChange{UserID: u.ID}
			want := []accounts.AccessChange{userOnly, userOnly, userOnly, userOnly}
			if got := rec.take(); !equalChanges(got, want) {
				t.Fatalf("credential changes heard: %v, want %v", got, want)
			}

			// Group changes.
			fac := other.Actor("session")
			g, err := svc.CreateGroup(ctx, fac, accounts.GroupInput{Name: "Cohort"})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := svc.CreateInvitation(ctx, fac, g.ID, accounts.InvitationInput{Role: accounts.RoleCoach})
			if err != nil {
				t.Fatal(err)
			}
			member := u.Actor("session")
			if _, _, err := svc.AcceptInvitation(ctx, inv.Token, &member, accounts.NewUser{}); err != nil {
				t.Fatal(err)
			}
			if err := svc.SetMemberRole(ctx, fac, g.ID, u.ID, accounts.RolePeer); err != nil {
				t.Fatal(err)
			}
			if err := svc.RemoveMember(ctx, fac, g.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			if err := svc.ArchiveGroup(ctx, fac, g.ID); err != nil {
				t.Fatal(err)
			}
			want = []accounts.AccessChange{{UserID: u.ID, GroupID: g.ID}, {UserID: u.ID, GroupID: g.ID}, {GroupID: g.ID}}
			if got := rec.take(); !equalChanges(got, want) {
				t.Fatalf("group changes heard: %v, want %v", got, want)
			}
			// A refused change is not heard.
			if err := svc.RemoveMember(ctx, fac, g.ID, u.ID); err == nil {
				t.Fatal("removed a member twice")
			}
			if got := rec.take(); len(got) != 0 {
				t.Fatalf("a refused change was heard: %v", got)
			}
		})
	}
}

func equalChanges(a, b []accounts.AccessChange) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
