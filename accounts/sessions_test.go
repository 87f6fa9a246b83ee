package accounts_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
)

func errCode(err error) string {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestSessions: rotation on sign-in, the list with "last seen" refreshed
// at most every few minutes, revoking one, signing out everywhere else, and
// CheckCredential following each of them; on SQLite and Postgres.
func TestSessions(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, clk := setup(t, d)
			u, err := svc.CreateUser(ctx, accounts.NewUser{Email: "t@school.org", Name: "Tess", Password: "correct horse battery"}, false)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := svc.CreateUser(ctx, accounts.NewUser{Email: "o@school.org", Name: "Otto", Password: "correct horse battery"}, false)
			actor := func(kind, id string) accounts.Actor {
				a := u.Actor(kind)
				a.Credential = kind + ":" + id
				return a
			}

			// Rotation: the session the browser came with ends.
			old, err := svc.StartSession(ctx, accounts.NewSession{UserID: u.ID, UserAgent: "Firefox", ClientIP: "10.0.0.1"})
			if err != nil || old.ID == "" {
				t.Fatalf("StartSession = %+v, %v", old, err)
			}
			fresh, err := svc.StartSession(ctx, accounts.NewSession{UserID: u.ID, UserAgent: "Firefox", ClientIP: "10.0.0.1", Replaces: old.Token})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.ResolveSession(ctx, old.Token, ""); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("the replaced session still works: %v", err)
			}
			if err := svc.CheckCredential(ctx, actor("session", old.ID)); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("CheckCredential of the replaced session = %v", err)
			}
			if err := svc.CheckCredential(ctx, actor("session", fresh.ID)); err != nil {
				t.Fatalf("CheckCredential of the new session = %v", err)
			}
			// Replacing a cookie that is no session (planted, or long gone) is fine.
			if _, err := svc.StartSession(ctx, accounts.NewSession{UserID: u.ID, Replaces: "planted-by-someone"}); err != nil {
				t.Fatal(err)
			}

			// The list: this session marked, last seen refreshed only after a while.
			phone, _ := svc.StartSession(ctx, accounts.NewSession{UserID: u.ID, UserAgent: "Safari iPhone", ClientIP: "10.0.0.2"})
			otherSe, _ := svc.StartSession(ctx, accounts.NewSession{UserID: other.ID, UserAgent: "Edge"})
			created := clk.now()
			clk.advance(time.Minute)
			if _, _, err := svc.ResolveSession(ctx, phone.Token, "10.0.0.9"); err != nil {
				t.Fatal(err)
			}
			list, err := svc.Sessions(ctx, u.ID, fresh.ID)
			if err != nil || len(list) != 3 {
				t.Fatalf("Sessions = %+v, %v; want 3", list, err)
			}
			byID := map[string]accounts.SessionInfo{}
			for _, s := range list {
				byID[s.ID] = s
			}
			if !byID[fresh.ID].Current || byID[phone.ID].Current {
				t.Errorf("current marks: %+v", list)
			}
			if p := byID[phone.ID]; !p.LastSeenAt.Equal(created) || p.ClientIP != "10.0.0.2" || p.UserAgent != "Safari iPhone" {
				t.Errorf("a use within %s rewrote last seen: %+v", accounts.SessionSeenEvery, p)
			}
			clk.advance(accounts.SessionSeenEvery)
			if _, _, err := svc.ResolveSession(ctx, phone.Token, "10.0.0.9"); err != nil {
				t.Fatal(err)
			}
			list, _ = svc.Sessions(ctx, u.ID, fresh.ID)
			if list[0].ID != phone.ID || !list[0].LastSeenAt.Equal(clk.now()) || list[0].ClientIP != "10.0.0.9" {
				t.Errorf("after %s the use was not recorded first: %+v", accounts.SessionSeenEvery, list[0])
			}

			// Revoking one: only one's own.
			if err := svc.RevokeSession(ctx, other.ID, phone.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("revoking someone else's session = %v, want not found", err)
			}
			if err := svc.RevokeSession(ctx, u.ID, phone.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.ResolveSession(ctx, phone.Token, ""); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("revoked session still works: %v", err)
			}
			if err := svc.CheckCredential(ctx, actor("session", phone.ID)); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Fatalf("CheckCredential of a revoked session = %v", err)
			}

			// Sign out everywhere else: other sessions and every token end.
			laptop, _ := svc.StartSession(ctx, accounts.NewSession{UserID: u.ID, UserAgent: "Chrome"})
			tok, err := svc.IssueToken(ctx, u.ID, accounts.TokenInput{Name: "sync", Scope: accounts.ScopeUpload})
			if err != nil {
				t.Fatal(err)
			}
			otherTok, _ := svc.CreateToken(ctx, other.ID, "theirs")
			if err := svc.CheckCredential(ctx, actor("token", tok.ID)); err != nil {
				t.Fatalf("CheckCredential of a live token = %v", err)
			}
			r, err := svc.RevokeOthers(ctx, u.ID, fresh.ID)
			if err != nil || r.Tokens != 1 || r.Sessions < 2 {
				t.Fatalf("RevokeOthers = %+v, %v", r, err)
			}
			for _, tc := range []struct {
				what string
				err  error
			}{
				{"other session", func() error { _, _, err := svc.ResolveSession(ctx, laptop.Token, ""); return err }()},
				{"token", func() error { _, err := svc.TokenUser(ctx, tok.Token); return err }()},
				{"token credential", svc.CheckCredential(ctx, actor("token", tok.ID))},
			} {
				if !errors.Is(tc.err, apperr.ErrUnauthorized) {
					t.Errorf("%s after sign out everywhere else: %v", tc.what, tc.err)
				}
			}
			if _, _, err := svc.ResolveSession(ctx, fresh.Token, ""); err != nil {
				t.Errorf("the session that signed out everywhere else ended too: %v", err)
			}
			if _, _, err := svc.ResolveSession(ctx, otherSe.Token, ""); err != nil {
				t.Errorf("another user's session ended: %v", err)
			}
			if _, err := svc.TokenUser(ctx, otherTok.Token); err != nil {
				t.Errorf("another user's token ended: %v", err)
			}

			// CheckCredential refuses what is not a credential of this user,
			// and an expired session.
			for _, a := range []accounts.Actor{
				{UserID: u.ID},
				{UserID: u.ID, Credential: "session:"},
				{UserID: u.ID, Credential: "cookie:" + fresh.ID},
				{UserID: other.ID, Credential: "session:" + fresh.ID},
				{UserID: u.ID, Credential: "token:" + otherTok.ID},
			} {
				if err := svc.CheckCredential(ctx, a); !errors.Is(err, apperr.ErrUnauthorized) {
					t.Errorf("CheckCredential(%+v) = %v, want unauthorized", a, err)
				}
			}
			clk.advance(svc.SessionTTL)
			if err := svc.CheckCredential(ctx, actor("session", fresh.ID)); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("CheckCredential of an expired session = %v", err)
			}
		})
	}
}

// TestPasswordChangesRevokeTokens: changing the password (and the CLI's
// set-password) ends the other sessions and every API token.
func TestPasswordChangesRevokeTokens(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, _ := setup(t, d)
			u, err := svc.CreateUser(ctx, accounts.NewUser{Email: "t@school.org", Name: "Tess", Password: "correct horse battery"}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name   string
				change func(keep accounts.Session) error
				keeps  bool
			}{
				{"change password", func(keep accounts.Session) error {
					return svc.ChangePassword(ctx, u.ID, "correct horse battery", "correct horse battery", keep.Token)
				}, true},
				{"set password", func(accounts.Session) error { return svc.SetPassword(ctx, u.ID, "correct horse battery") }, false},
			} {
				keep, _ := svc.CreateSession(ctx, u.ID, "mine")
				otherSe, _ := svc.CreateSession(ctx, u.ID, "stolen")
				tok, _ := svc.CreateToken(ctx, u.ID, "script")
				if err := tc.change(keep); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if _, err := svc.TokenUser(ctx, tok.Token); !errors.Is(err, apperr.ErrUnauthorized) {
					t.Errorf("%s: the API token survived: %v", tc.name, err)
				}
				if ts, _ := svc.Tokens(ctx, u.ID); len(ts) != 0 {
					t.Errorf("%s: tokens still listed: %+v", tc.name, ts)
				}
				if _, _, err := svc.SessionUser(ctx, otherSe.Token); !errors.Is(err, apperr.ErrUnauthorized) {
					t.Errorf("%s: another session survived: %v", tc.name, err)
				}
				if _, _, err := svc.SessionUser(ctx, keep.Token); (err == nil) != tc.keeps {
					t.Errorf("%s: own session: %v, want kept %v", tc.name, err, tc.keeps)
				}
			}
		})
	}
}

// TestTokenScopeAndExpiry: tokens are made with a scope and one of the
// offered lifetimes, and refused once expired with a message naming when.
func TestTokenScopeAndExpiry(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), ratelimit.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc, clk := setup(t, d)
			u, err := svc.CreateUser(ctx, accounts.NewUser{Email: "t@school.org", Name: "Tess", Password: "correct horse battery"}, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				in    accounts.TokenInput
				field string
			}{
				{accounts.TokenInput{Name: "x", Scope: "admin"}, "scope"},
				{accounts.TokenInput{Name: "x"}, "scope"},
				{accounts.TokenInput{Name: " ", Scope: accounts.ScopeRead}, "name"},
				{accounts.TokenInput{Name: "x", Scope: accounts.ScopeRead, ExpiresInDays: 3650}, "expires_in_days"},
				{accounts.TokenInput{Name: "x", Scope: accounts.ScopeRead, ExpiresInDays: -1}, "expires_in_days"},
			} {
				if _, err := svc.IssueToken(ctx, u.ID, tc.in); !fieldError(err, tc.field) {
					t.Errorf("IssueToken(%+v) = %v, want a %s field error", tc.in, err, tc.field)
				}
			}
			def, err := svc.IssueToken(ctx, u.ID, accounts.TokenInput{Name: "default", Scope: accounts.ScopeRead})
			if err != nil || def.ExpiresAt.Sub(def.CreatedAt) != 90*24*time.Hour || def.Scope != accounts.ScopeRead {
				t.Fatalf("default token = %+v, %v; want read, 90 days", def, err)
			}
			week, err := svc.IssueToken(ctx, u.ID, accounts.TokenInput{Name: "week", Scope: accounts.ScopeUpload, ExpiresInDays: 7})
			if err != nil || week.ExpiresAt.Sub(week.CreatedAt) != 7*24*time.Hour {
				t.Fatalf("7-day token = %+v, %v", week, err)
			}
			if _, got, err := svc.ResolveToken(ctx, week.Token); err != nil || got.Scope != accounts.ScopeUpload || got.ID != week.ID {
				t.Fatalf("ResolveToken = %+v, %v", got, err)
			}
			// Use is recorded, at most every few minutes.
			firstUse := clk.now()
			clk.advance(time.Minute)
			if _, got, err := svc.ResolveToken(ctx, week.Token); err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(firstUse) {
				t.Fatalf("second use within %s: last used %v, %v; want %s", accounts.SessionSeenEvery, got.LastUsedAt, err, firstUse)
			}
			clk.advance(accounts.SessionSeenEvery)
			if _, err := svc.TokenUser(ctx, week.Token); err != nil {
				t.Fatal(err)
			}
			if _, got, _ := svc.ResolveToken(ctx, week.Token); got.LastUsedAt == nil || !got.LastUsedAt.Equal(clk.now()) {
				t.Fatalf("use after %s not recorded: %v", accounts.SessionSeenEvery, got.LastUsedAt)
			}
			clk.advance(7 * 24 * time.Hour)
			_, _, err = svc.ResolveToken(ctx, week.Token)
			if !errors.Is(err, apperr.ErrUnauthorized) || errCode(err) != "token_expired" || !strings.Contains(err.Error(), week.ExpiresAt.Format("2006-01-02")) {
				t.Fatalf("expired token = %v, want token_expired naming %s", err, week.ExpiresAt.Format("2006-01-02"))
			}
			a := u.Actor("token")
			a.Credential = "token:" + week.ID
			if err := svc.CheckCredential(ctx, a); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("CheckCredential of an expired token = %v", err)
			}
			ts, err := svc.Tokens(ctx, u.ID)
			if err != nil || len(ts) != 2 {
				t.Fatalf("Tokens = %+v, %v", ts, err)
			}
			for _, tk := range ts {
				if tk.Expired != (tk.ID == week.ID) || (tk.ID == week.ID && tk.Scope != accounts.ScopeUpload) {
					t.Errorf("listed %+v; want only the week token (upload) marked expired", tk)
				}
			}
			// Expired tokens stay listed for a while, then are purged.
			clk.advance(accounts.ExpiredTokenKeep + time.Hour)
			if err := svc.PurgeExpired(ctx); err != nil {
				t.Fatal(err)
			}
			if ts, _ := svc.Tokens(ctx, u.ID); len(ts) != 1 || ts[0].ID != def.ID {
				t.Errorf("after the purge: %+v, want only the 90-day token", ts)
			}
		})
	}
}

// TestMigrationGivesSessionIDsAndTokenExpiry: sessions and tokens made
// before migration 2 get an id, a last-seen time, the full scope and an
// expiry, and the migration goes down and up again.
func TestMigrationGivesSessionIDsAndTokenExpiry(t *testing.T) {
	t.Parallel()
	full := accounts.Migrations()
	first := fstest.MapFS{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, f := range []string{"0001_accounts.up.sql", "0001_accounts.down.sql"} {
			b, err := fs.ReadFile(full.FS, dialect+"/"+f)
			if err != nil {
				t.Fatal(err)
			}
			first[dialect+"/"+f] = &fstest.MapFile{Data: b}
		}
	}
	for _, d := range testsvc.Databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			if _, err := db.Up(ctx, []sqldb.Migrations{{Component: "accounts", FS: first}}); err != nil {
				t.Fatal(err)
			}
			w := db.Writer()
			for _, q := range []string{
				`INSERT INTO users (id, email, name, password_hash, admin, created_at, updated_at) VALUES ('u1', 'a@b.org', 'A', 'x', FALSE, 1, 1)`,
				`INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, expires_at) VALUES ('h1', 'u1', 'c', 'ua', 5, 9999999999999)`,
				`INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, expires_at) VALUES ('h2', 'u1', 'c', 'ua', 6, 9999999999999)`,
				`INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ('t1', 'u1', 'old', 'th', 1)`,
			} {
				if _, err := w.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			before := time.Now()
			if _, err := db.Up(ctx, []sqldb.Migrations{full}); err != nil {
				t.Fatal(err)
			}
			var ids []string
			rows, err := db.Reader().Query(ctx, `SELECT id, last_seen_at, created_at FROM sessions ORDER BY created_at`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var sid string
				var seen, created int64
				if err := rows.Scan(&sid, &seen, &created); err != nil {
					t.Fatal(err)
				}
				if sid == "" || seen != created {
					t.Errorf("migrated session: id %q, last seen %d, created %d", sid, seen, created)
				}
				ids = append(ids, sid)
			}
			rows.Close()
			if len(ids) != 2 || ids[0] == ids[1] {
				t.Errorf("migrated session ids %v, want two distinct", ids)
			}
			var scope string
			var expires int64
			if err := db.Reader().QueryRow(ctx, `SELECT scope, expires_at FROM api_tokens WHERE id = 't1'`).Scan(&scope, &expires); err != nil {
				t.Fatal(err)
			}
			exp := sqldb.Time(expires)
			if scope != "full" || exp.Before(before.Add(89*24*time.Hour)) || exp.After(time.Now().Add(91*24*time.Hour)) {
				t.Errorf("migrated token: scope %q expires %s, want full, in 90 days", scope, exp)
			}
			if err := db.Down(ctx, []sqldb.Migrations{full}); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := db.Up(ctx, []sqldb.Migrations{full}); err != nil {
				t.Fatalf("up again: %v", err)
			}
		})
	}
}
