package sqldb_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
)

var notes = sqldb.Migrations{Component: "notes", FS: fstest.MapFS{
	"sqlite/0001_notes.up.sql":     {Data: []byte("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);\n")},
	"sqlite/0001_notes.down.sql":   {Data: []byte("DROP TABLE notes;\n")},
	"sqlite/0002_tags.up.sql":      {Data: []byte("-- a comment\nALTER TABLE notes ADD COLUMN tag TEXT;\nCREATE INDEX notes_tag ON notes (tag);\n")},
	"sqlite/0002_tags.down.sql":    {Data: []byte("DROP INDEX notes_tag;\nALTER TABLE notes DROP COLUMN tag;\n")},
	"postgres/0001_notes.up.sql":   {Data: []byte("CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);\n")},
	"postgres/0001_notes.down.sql": {Data: []byte("DROP TABLE notes;\n")},
	"postgres/0002_tags.up.sql":    {Data: []byte("ALTER TABLE notes ADD COLUMN tag TEXT;\nCREATE INDEX notes_tag ON notes (tag);\n")},
	"postgres/0002_tags.down.sql":  {Data: []byte("DROP INDEX notes_tag;\nALTER TABLE notes DROP COLUMN tag;\n")},
}}

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			sets := []sqldb.Migrations{notes}
			if _, err := db.Check(ctx, sets); err == nil || !strings.Contains(err.Error(), "behind") {
				t.Fatalf("Check on an empty database = %v, want a 'behind' error", err)
			}
			for round := 0; round < 2; round++ {
				n, err := db.Up(ctx, sets)
				if err != nil || n != 2 {
					t.Fatalf("round %d: Up = %d, %v; want 2, nil", round, n, err)
				}
				if _, err := db.Check(ctx, sets); err != nil {
					t.Fatalf("Check after Up: %v", err)
				}
				if _, err := db.Writer().Exec(ctx, `INSERT INTO notes (id, body, tag) VALUES (?, ?, ?)`, "a", "hello", "x"); err != nil {
					t.Fatalf("insert after Up: %v", err)
				}
				if n, err := db.Up(ctx, sets); err != nil || n != 0 {
					t.Fatalf("second Up = %d, %v; want 0, nil", n, err)
				}
				if err := db.Down(ctx, sets); err != nil {
					t.Fatalf("Down: %v", err)
				}
				if _, err := db.Writer().Exec(ctx, `SELECT 1 FROM notes`); err == nil {
					t.Fatal("notes table still exists after Down")
				}
			}
		})
	}
}

func TestSchemaAheadIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testsvc.Databases()[0].Open(t)
	if _, err := db.Up(ctx, []sqldb.Migrations{notes}); err != nil {
		t.Fatal(err)
	}
	older := sqldb.Migrations{Component: "notes", FS: fstest.MapFS{
		"sqlite/0001_notes.up.sql":   notes.FS.(fstest.MapFS)["sqlite/0001_notes.up.sql"],
		"sqlite/0001_notes.down.sql": notes.FS.(fstest.MapFS)["sqlite/0001_notes.down.sql"],
	}}
	if _, err := db.Check(ctx, []sqldb.Migrations{older}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Check with an older binary = %v, want a 'newer' error", err)
	}
}

func TestRebind(t *testing.T) {
	t.Parallel()
	pg := &sqldb.DB{Dialect: sqldb.Postgres}
	lite := &sqldb.DB{Dialect: sqldb.SQLite}
	for _, tc := range []struct{ in, pg string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"},
		{"", ""},
		{"?", "$1"},
		{"?? x ?", "$1$2 x $3"},
		{"IN (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) AND é = ?", "IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AND é = $12"},
	} {
		if got := pg.Rebind(tc.in); got != tc.pg {
			t.Errorf("postgres Rebind(%q) = %q, want %q", tc.in, got, tc.pg)
		}
		if got := lite.Rebind(tc.in); got != tc.in {
			t.Errorf("sqlite Rebind(%q) = %q", tc.in, got)
		}
	}
}
