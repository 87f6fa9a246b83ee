package testsvc

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// PostgresURL is the server the Postgres runs use; FILMROOM_TEST_POSTGRES
// overrides it.
func PostgresURL() string {
	if u := os.Getenv("FILMROOM_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// unavailable skips the test outside CI and fails it in CI.
func unavailable(t testing.TB, what, how string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not available in CI: %s", what, how)
	}
	t.Skipf("%s is not available (%s); skipping", what, how)
}

// PostgresSchema creates a fresh schema on the test server and returns a URL
// whose connections use it, dropping the schema when the test ends. Each test
// gets its own schema, so tests run in parallel without seeing each other.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		unavailable(t, "PostgreSQL", err.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		unavailable(t, "PostgreSQL at "+redact(base), err.Error()+"; start PostgreSQL or set FILMROOM_TEST_POSTGRES")
	}
	schema := "t_" + id.New()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redact(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}

// Database names one database a shared suite runs on.
type Database struct {
	Name string
	Open func(t testing.TB) *sqldb.DB
}

// Databases returns SQLite (a file in a temp dir) and PostgreSQL (a fresh
// schema), each opened and migrated with sets. Shared store suites loop over
// it so every store runs against both dialects.
func Databases(sets ...sqldb.Migrations) []Database {
	migrated := func(t testing.TB, rawURL string) *sqldb.DB {
		t.Helper()
		ctx := context.Background()
		db, err := sqldb.Open(ctx, rawURL)
		if err != nil {
			t.Fatalf("open %s: %v", redact(rawURL), err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Up(ctx, sets); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return db
	}
	return []Database{
		{Name: "sqlite", Open: func(t testing.TB) *sqldb.DB {
			return migrated(t, "sqlite:"+filepath.Join(t.TempDir(), "filmroom.db"))
		}},
		{Name: "postgres", Open: func(t testing.TB) *sqldb.DB {
			return migrated(t, PostgresSchema(t))
		}},
	}
}

// RepoRoot walks up from the working directory to the folder with go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir || strings.TrimSpace(parent) == "" {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}
