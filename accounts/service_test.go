package accounts_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// clock is a swappable clock for expiry tests.
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

func setup(t *testing.T, d testsvc.Database) (*accounts.Service, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
	return accounts.New(d.Open(t), slog.New(slog.NewTextHandler(io.Discard, nil)), clk.now), clk
}

func fieldError(err error, field string) bool {
	var v *apperr.Validation
	return errors.As(err, &v) && v.Fields[field] != ""
}

// TestService is the accounts store suite; it runs on SQLite and Postgres.
func TestService(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, clk := setup(t, d)

			// First run: one admin, and only once.
			admin, err := svc.Setup(ctx, accounts.NewUser{Email: " Admin@School.ORG ", Name: "Ada", Password: "correct horse battery"})
			if err != nil || !admin.Admin || admin.Email != "admin@school.org" {
				t.Fatalf("Setup = %+v, %v", admin, err)
			}
			if _, err := svc.Setup(ctx, accounts.NewUser{Email: "b@school.org", Name: "B", Password: "correct horse battery"}); !errors.Is(err, apperr.ErrConflict) {
				t.Fatalf("second Setup = %v, want conflict", err)
			}

			// Bad sign-ups name the field.
			for _, tc := range []struct {
				name  string
				in    accounts.NewUser
				field string
			}{
				{"bad email", accounts.NewUser{Email: "not-an-email", Name: "X", Password: "long enough pass"}, "email"},
				{"no name", accounts.NewUser{Email: "x@school.org", Name: " ", Password: "long enough pass"}, "name"},
				{"short password", accounts.NewUser{Email: "x@school.org", Name: "X", Password: "short"}, "password"},
				{"duplicate email", accounts.NewUser{Email: "ADMIN@school.org", Name: "X", Password: "long enough pass"}, "email"},
			} {
				if _, err := svc.CreateUser(ctx, tc.in, false); !fieldError(err, tc.field) {
					t.Errorf("%s: CreateUser = %v, want a %s field error", tc.name, err, tc.field)
				}
			}

			// Sign-in, wrong password, throttling per email.
			if _, err := svc.Authenticate(ctx, "ADMIN@school.org", "correct horse battery", "10.0.0.1"); err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			for i := 0; i < 5; i++ {
				if _, err := svc.Authenticate(ctx, "admin@school.org", "wrong", "10.0.0.1"); !errors.Is(err, apperr.ErrUnauthorized) {
					t.Fatalf("wrong password %d: %v", i, err)
				}
			}
			if _, err := svc.Authenticate(ctx, "admin@school.org", "correct horse battery", "10.0.0.1"); !errors.Is(err, apperr.ErrTooManyRequests) {
				t.Fatalf("after 5 failures: %v, want too many requests", err)
			}
			clk.advance(16 * time.Minute)
			if _, err := svc.Authenticate(ctx, "admin@school.org", "correct horse battery", "10.0.0.1"); err != nil {
				t.Fatalf("after the window: %v", err)
			}

			// Sessions expire; password change ends the other sessions.
			s1, _ := svc.CreateSession(ctx, admin.ID, "a")
			s2, _ := svc.CreateSession(ctx, admin.ID, "b")
			if u, _, err := svc.SessionUser(ctx, s1.Token); err != nil || u.ID != admin.ID {
				t.Fatalf("SessionUser = %v, %v", u, err)
			}
			if err := svc.ChangePassword(ctx, admin.ID, "wrong", "a brand new password", s1.Token); !fieldError(err, "current_password") {
				t.Fatalf("ChangePassword with a wrong current one = %v", err)
			}
			if err := svc.ChangePassword(ctx, admin.ID, "correct horse battery", "a brand new password", s1.Token); err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.SessionUser(ctx, s2.Token); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("other session after password change: %v", err)
			}
			if _, _, err := svc.SessionUser(ctx, s1.Token); err != nil {
				t.Fatalf("own session after password change: %v", err)
			}
			clk.advance(31 * 24 * time.Hour)
			if _, _, err := svc.SessionUser(ctx, s1.Token); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("expired session: %v", err)
			}

			// API tokens.
			tok, err := svc.CreateToken(ctx, admin.ID, "nightly export")
			if err != nil {
				t.Fatal(err)
			}
			if u, err := svc.TokenUser(ctx, tok.Token); err != nil || u.ID != admin.ID {
				t.Fatalf("TokenUser = %v, %v", u, err)
			}
			if err := svc.DeleteToken(ctx, admin.ID, tok.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.TokenUser(ctx, tok.Token); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("revoked token: %v", err)
			}

			// Groups, invitations and their expiry.
			a := admin.Actor("session")
			g, err := svc.CreateGroup(ctx, a, accounts.GroupInput{Name: "Grade 5 cohort"})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := svc.CreateInvitation(ctx, a, g.ID, accounts.InvitationInput{Role: accounts.RoleCoach, ExpiresInHours: 24})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := svc.Invitation(ctx, inv.Token); err != nil || got.GroupName != "Grade 5 cohort" || got.Role != accounts.RoleCoach {
				t.Fatalf("Invitation = %+v, %v", got, err)
			}
			coach, gid, err := svc.AcceptInvitation(ctx, inv.Token, nil, accounts.NewUser{Email: "coach@school.org", Name: "Cora", Password: "coaching is fun"})
			if err != nil || gid != g.ID {
				t.Fatalf("AcceptInvitation = %v, %v", gid, err)
			}
			if _, _, err := svc.AcceptInvitation(ctx, inv.Token, nil, accounts.NewUser{Email: "z@school.org", Name: "Z", Password: "coaching is fun"}); !errors.Is(err, apperr.ErrGone) {
				t.Fatalf("reused invitation: %v, want gone", err)
			}
			old, _ := svc.CreateInvitation(ctx, a, g.ID, accounts.InvitationInput{Role: accounts.RolePeer, ExpiresInHours: 1})
			clk.advance(2 * time.Hour)
			if _, _, err := svc.AcceptInvitation(ctx, old.Token, nil, accounts.NewUser{Email: "late@school.org", Name: "Late", Password: "coaching is fun"}); !errors.Is(err, apperr.ErrGone) {
				t.Fatalf("expired invitation: %v, want gone", err)
			}
			if n, _ := svc.UserCount(ctx); n != 2 {
				t.Fatalf("an expired invitation half-created an account: %d users", n)
			}
			// A failed accept (taken email) creates nothing and leaves the link usable.
			inv2, _ := svc.CreateInvitation(ctx, a, g.ID, accounts.InvitationInput{Role: accounts.RolePeer})
			if _, _, err := svc.AcceptInvitation(ctx, inv2.Token, nil, accounts.NewUser{Email: "coach@school.org", Name: "Dup", Password: "coaching is fun"}); !fieldError(err, "email") {
				t.Fatalf("accept with a taken email: %v", err)
			}
			if _, err := svc.Invitation(ctx, inv2.Token); err != nil {
				t.Fatalf("the invitation was used up by a failed accept: %v", err)
			}

			_, members, err := svc.Group(ctx, coach.Actor("session"), g.ID)
			if err != nil || len(members) != 2 {
				t.Fatalf("Group as coach = %v, %v", members, err)
			}
			if err := svc.SetMemberRole(ctx, coach.Actor("session"), g.ID, admin.ID, accounts.RolePeer); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("coach changing roles: %v, want forbidden", err)
			}
			// The last facilitator cannot step down or leave.
			if err := svc.SetMemberRole(ctx, a, g.ID, admin.ID, accounts.RolePeer); !errors.Is(err, apperr.ErrConflict) {
				t.Fatalf("last facilitator stepping down: %v", err)
			}
			if err := svc.RemoveMember(ctx, coach.Actor("session"), g.ID, coach.ID); err != nil {
				t.Fatalf("leaving a group: %v", err)
			}
			outsider := coach.Actor("session")
			if _, _, err := svc.Group(ctx, outsider, g.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("Group after leaving: %v, want not found", err)
			}
		})
	}
}

func TestCanClip(t *testing.T) {
	t.Parallel()
	clip := accounts.ClipAccess{OwnerID: "owner", UserIDs: []string{"named"}, GroupIDs: []string{"g"}}
	type who struct {
		actor accounts.Actor
		m     accounts.Memberships
	}
	people := map[string]who{
		"owner":       {accounts.Actor{UserID: "owner"}, nil},
		"named":       {accounts.Actor{UserID: "named"}, nil},
		"coach":       {accounts.Actor{UserID: "c"}, accounts.Memberships{"g": accounts.RoleCoach}},
		"facilitator": {accounts.Actor{UserID: "f"}, accounts.Memberships{"g": accounts.RoleFacilitator}},
		"peer":        {accounts.Actor{UserID: "p"}, accounts.Memberships{"g": accounts.RolePeer}},
		"other group": {accounts.Actor{UserID: "o"}, accounts.Memberships{"h": accounts.RoleCoach}},
		"outsider":    {accounts.Actor{UserID: "x"}, nil},
		"anonymous":   {accounts.Actor{}, nil},
		"admin":       {accounts.Actor{UserID: "a", Admin: true}, nil},
	}
	// view annotate host edit delete
	want := map[string][5]bool{
		"owner":       {true, true, true, true, true},
		"named":       {true, true, true, false, false},
		"coach":       {true, true, true, false, false},
		"facilitator": {true, true, true, false, false},
		"peer":        {true, true, false, false, false},
		"other group": {},
		"outsider":    {},
		"anonymous":   {},
		"admin":       {false, false, false, false, true},
	}
	acts := []accounts.Action{accounts.ClipView, accounts.ClipAnnotate, accounts.ClipHost, accounts.ClipEdit, accounts.ClipDelete}
	for name, p := range people {
		for i, act := range acts {
			if got := accounts.CanClip(p.actor, p.m, act, clip); got != want[name][i] {
				t.Errorf("%s %s: %v, want %v", name, act, got, want[name][i])
			}
		}
	}
}
