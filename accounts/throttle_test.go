package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/testsvc"
)

const (
	ownerEmail = "owner@school.org"
	ownerPass  = "correct horse battery"
	ownerIP    = "192.0.2.10"
)

// retryAfter returns the wait a too-many-requests error carries (0 when err
// is something else).
func retryAfter(err error) time.Duration {
	var ae *apperr.Error
	if errors.As(err, &ae) && errors.Is(err, apperr.ErrTooManyRequests) {
		return ae.RetryAfter
	}
	return 0
}

// TestSignInThrottle proves that guessing is throttled while the owner of
// an account cannot be locked out by a stranger, on SQLite and PostgreSQL.
func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type env struct {
		svc *accounts.Service
		clk *clock
		t   *testing.T
	}
	signIn := func(e env, email, pass, ip string) error {
		e.t.Helper()
		_, err := e.svc.Authenticate(ctx, email, pass, ip)
		return err
	}
	wrong := func(e env, n int, email, ip string) {
		e.t.Helper()
		for i := range n {
			if err := signIn(e, email, "wrong password", ip); !errors.Is(err, accounts.ErrInvalidCredentials) {
				e.t.Fatalf("wrong password %d from %s: %v, want invalid credentials", i+1, ip, err)
			}
		}
	}
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		for _, tc := range []struct {
			name   string
			limits func(*accounts.Limits)
			run    func(e env)
		}{
			{name: "a stranger's five wrong passwords do not lock the owner out", run: func(e env) {
				wrong(e, 5, ownerEmail, "203.0.113.66")
				if err := signIn(e, ownerEmail, ownerPass, "203.0.113.66"); retryAfter(err) != time.Second {
					e.t.Fatalf("the stranger's sixth attempt: %v, want a wait of 1s", err)
				}
				if err := signIn(e, ownerEmail, ownerPass, ownerIP); err != nil {
					e.t.Fatalf("the owner from their own address: %v", err)
				}
			}},
			{name: "the back-off doubles, is capped, and a success resets it", run: func(e env) {
				wrong(e, 5, ownerEmail, ownerIP)
				for _, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
					err := signIn(e, ownerEmail, ownerPass, ownerIP)
					if retryAfter(err) != wait {
						e.t.Fatalf("got %v, want a wait of %s", err, wait)
					}
					e.clk.advance(wait)
					wrong(e, 1, ownerEmail, ownerIP)
				}
				e.clk.advance(time.Hour)
				for range 12 {
					e.clk.advance(time.Hour)
					wrong(e, 1, ownerEmail, ownerIP)
				}
				err := signIn(e, ownerEmail, ownerPass, ownerIP)
				if got := retryAfter(err); got != 15*time.Minute {
					e.t.Fatalf("after many failures the wait is %s (%v), want the 15 min cap", got, err)
				}
				e.clk.advance(15 * time.Minute)
				if err := signIn(e, ownerEmail, ownerPass, ownerIP); err != nil {
					e.t.Fatalf("the owner after the wait: %v", err)
				}
				wrong(e, 5, ownerEmail, ownerIP) // the success reset the pair
			}},
			{name: "the message says how long", run: func(e env) {
				wrong(e, 5, ownerEmail, ownerIP)
				err := signIn(e, ownerEmail, ownerPass, ownerIP)
				if err == nil || err.Error() != "too many failed sign-ins for this account from your network; wait 1 second and try again, or ask an admin to reset your password" {
					e.t.Fatalf("message: %v", err)
				}
			}},
			{name: "one address spraying many emails is slowed down", run: func(e env) {
				for i := range 4 {
					wrong(e, 1, fmt.Sprintf("user%d@school.org", i), "203.0.113.66")
				}
				err := signIn(e, "user9@school.org", "wrong password", "203.0.113.66")
				if retryAfter(err) != 30*time.Second {
					e.t.Fatalf("fifth email from one address: %v, want a wait of 30s", err)
				}
				// Successful sign-ins from a school's shared address do not count.
				for range 10 {
					if err := signIn(e, ownerEmail, ownerPass, ownerIP); err != nil {
						e.t.Fatalf("a correct sign-in: %v", err)
					}
				}
			}, limits: func(l *accounts.Limits) { l.Address = ratelimit.Rate{Count: 2, Per: time.Minute, Burst: 4} }},
			{name: "many addresses guessing one email hit its ceiling", run: func(e env) {
				for i := range 6 {
					wrong(e, 1, ownerEmail, fmt.Sprintf("198.51.100.%d", i))
				}
				err := signIn(e, ownerEmail, "wrong password", "198.51.100.99")
				if retryAfter(err) != 10*time.Minute {
					e.t.Fatalf("seventh address: %v, want a wait of 10 min", err)
				}
			}, limits: func(l *accounts.Limits) { l.Email = ratelimit.Rate{Count: 6, Per: time.Hour, Burst: 6} }},
			{name: "unknown emails are throttled like known ones", run: func(e env) {
				wrong(e, 5, "nobody@school.org", ownerIP)
				if err := signIn(e, "NOBODY@school.org ", "x", ownerIP); retryAfter(err) != time.Second {
					e.t.Fatalf("sixth attempt on an unknown email: %v", err)
				}
			}},
			{name: "guesses of the current password are throttled per user", run: func(e env) {
				u, err := e.svc.Authenticate(ctx, ownerEmail, ownerPass, ownerIP)
				if err != nil {
					e.t.Fatal(err)
				}
				se, _ := e.svc.CreateSession(ctx, u.ID, "test")
				for i := range 5 {
					if err := e.svc.ChangePassword(ctx, u.ID, fmt.Sprintf("guess %d", i), "a brand new password", se.Token); !fieldError(err, "current_password") {
						e.t.Fatalf("guess %d: %v", i+1, err)
					}
				}
				err = e.svc.ChangePassword(ctx, u.ID, ownerPass, "a brand new password", se.Token)
				if retryAfter(err) != time.Second {
					e.t.Fatalf("sixth guess: %v, want a wait of 1s", err)
				}
				e.clk.advance(time.Second)
				if err := e.svc.ChangePassword(ctx, u.ID, ownerPass, "a brand new password", se.Token); err != nil {
					e.t.Fatalf("after the wait: %v", err)
				}
			}},
		} {
			t.Run(d.Name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				svc, clk := setup(t, d)
				if tc.limits != nil {
					tc.limits(&svc.Limits)
				}
				if _, err := svc.CreateUser(ctx, accounts.NewUser{Email: ownerEmail, Name: "Owner", Password: ownerPass}, false); err != nil {
					t.Fatal(err)
				}
				tc.run(env{svc: svc, clk: clk, t: t})
			})
		}
	}
}

// TestSignInThrottleSurvivesRestart: the counts are in the database, so a
// new service (a restarted node, or another node) over it still refuses.
func TestSignInThrottleSurvivesRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			db := d.Open(t)
			clk := &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
			first := accounts.New(db, discard(), clk.now)
			if _, err := first.CreateUser(ctx, accounts.NewUser{Email: ownerEmail, Name: "Owner", Password: ownerPass}, false); err != nil {
				t.Fatal(err)
			}
			for range 5 {
				_, _ = first.Authenticate(ctx, ownerEmail, "wrong password", ownerIP)
			}
			second := accounts.New(db, discard(), clk.now)
			if _, err := second.Authenticate(ctx, ownerEmail, ownerPass, ownerIP); retryAfter(err) != time.Second {
				t.Fatalf("a fresh service after 5 failures: %v, want a wait of 1s", err)
			}
		})
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
