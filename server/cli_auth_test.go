package server

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestCLISetPasswordRevokesCredentials: `filmroom user set-password` (the
// reset for a person whose password leaked) ends every session and revokes
// every API token of the account, on SQLite and Postgres.
func TestCLISetPasswordRevokesCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "filmroom.db") }},
		{"postgres", func(t *testing.T) string { return testsvc.PostgresSchema(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := tc.url(t)
			db, err := sqldb.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Up(ctx, Migrations()); err != nil {
				t.Fatal(err)
			}
			acc := accounts.New(db, discardLog(), nil)
			u, err := acc.CreateUser(ctx, accounts.NewUser{Email: "t@school.org", Name: "Tess", Password: "the leaked password"}, false)
			if err != nil {
				t.Fatal(err)
			}
			se, _ := acc.CreateSession(ctx, u.ID, "thief's browser")
			tok, _ := acc.CreateToken(ctx, u.ID, "thief's script")
			var stdout, stderr bytes.Buffer
			if code := Main([]string{"user", "set-password", "--database", url, "--password", "a fresh long password", "t@school.org"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("set-password: exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "API tokens revoked") {
				t.Errorf("output: %q", stdout.String())
			}
			if _, _, err := acc.SessionUser(ctx, se.Token); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("session after set-password: %v", err)
			}
			if _, err := acc.TokenUser(ctx, tok.Token); !errors.Is(err, apperr.ErrUnauthorized) {
				t.Errorf("token after set-password: %v", err)
			}
		})
	}
}
