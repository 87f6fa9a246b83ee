package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations is one component's schema history: files named
// "<dialect>/NNNN_name.up.sql" and "<dialect>/NNNN_name.down.sql" in FS.
// Components migrate in the order they are listed, so a component may
// reference tables of the ones before it.
type Migrations struct {
	Component string
	FS        fs.FS
}

type migration struct {
	version  int
	name     string
	up, down string
}

func (m Migrations) load(d Dialect) ([]migration, error) {
	dir := string(d)
	entries, err := fs.ReadDir(m.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations %s: read %s: %w", m.Component, dir, err)
	}
	byVersion := map[int]*migration{}
	for _, e := range entries {
		name := e.Name()
		var kind string
		switch {
		case strings.HasSuffix(name, ".up.sql"):
			kind = "up"
		case strings.HasSuffix(name, ".down.sql"):
			kind = "down"
		default:
			continue
		}
		num, rest, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations %s: %s: name must start with a positive number and '_'", m.Component, name)
		}
		body, err := fs.ReadFile(m.FS, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrations %s: %w", m.Component, err)
		}
		mg := byVersion[v]
		if mg == nil {
			mg = &migration{version: v, name: strings.TrimSuffix(strings.TrimSuffix(rest, ".up.sql"), ".down.sql")}
			byVersion[v] = mg
		}
		if kind == "up" {
			mg.up = string(body)
		} else {
			mg.down = string(body)
		}
	}
	out := make([]migration, 0, len(byVersion))
	for _, mg := range byVersion {
		if mg.up == "" || mg.down == "" {
			return nil, fmt.Errorf("migrations %s: version %d needs both .up.sql and .down.sql", m.Component, mg.version)
		}
		out = append(out, *mg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, mg := range out {
		if mg.version != i+1 {
			return nil, fmt.Errorf("migrations %s: versions must be 1, 2, 3… without gaps; found %d at position %d", m.Component, mg.version, i+1)
		}
	}
	return out, nil
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	component TEXT NOT NULL,
	version INTEGER NOT NULL,
	name TEXT NOT NULL,
	applied_at BIGINT NOT NULL,
	PRIMARY KEY (component, version)
)`

func (db *DB) applied(ctx context.Context, component string) (int, error) {
	if _, err := db.W.ExecContext(ctx, migrationsTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var v int
	err := db.Writer().QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = ?`, component).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read schema version of %s: %w", component, err)
	}
	return v, nil
}

// Status is one component's schema position.
type Status struct {
	Component string
	Applied   int
	Latest    int
}

// Behind reports whether migrations are waiting to be applied.
func (s Status) Behind() bool { return s.Applied < s.Latest }

// ErrSchemaAhead is returned when the database has migrations this binary
// does not know: an older binary must not write to a newer schema.
var ErrSchemaAhead = errors.New("the database schema is newer than this filmroom binary; upgrade filmroom")

// Check returns each component's status and an error when the schema is
// behind (run "filmroom migrate" or serve with --migrate) or ahead.
func (db *DB) Check(ctx context.Context, sets []Migrations) ([]Status, error) {
	var out []Status
	var behind []string
	for _, set := range sets {
		ms, err := set.load(db.Dialect)
		if err != nil {
			return nil, err
		}
		v, err := db.applied(ctx, set.Component)
		if err != nil {
			return nil, err
		}
		st := Status{Component: set.Component, Applied: v, Latest: len(ms)}
		out = append(out, st)
		if v > len(ms) {
			return out, fmt.Errorf("%s at version %d, binary knows %d: %w", set.Component, v, len(ms), ErrSchemaAhead)
		}
		if st.Behind() {
			behind = append(behind, fmt.Sprintf("%s %d→%d", set.Component, v, len(ms)))
		}
	}
	if len(behind) > 0 {
		return out, fmt.Errorf("database schema is behind (%s): run \"filmroom migrate\" or start with --migrate", strings.Join(behind, ", "))
	}
	return out, nil
}

// Up applies every pending migration, each in its own transaction, and
// returns how many it applied.
func (db *DB) Up(ctx context.Context, sets []Migrations) (int, error) {
	n := 0
	for _, set := range sets {
		ms, err := set.load(db.Dialect)
		if err != nil {
			return n, err
		}
		v, err := db.applied(ctx, set.Component)
		if err != nil {
			return n, err
		}
		if v > len(ms) {
			return n, fmt.Errorf("%s at version %d, binary knows %d: %w", set.Component, v, len(ms), ErrSchemaAhead)
		}
		for _, mg := range ms[v:] {
			err := db.Tx(ctx, func(q Q) error {
				if err := execScript(ctx, q, mg.up); err != nil {
					return err
				}
				_, err := q.Exec(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)`,
					set.Component, mg.version, mg.name, time.Now().UnixMilli())
				return err
			})
			if err != nil {
				return n, fmt.Errorf("migrate %s up to %d (%s): %w", set.Component, mg.version, mg.name, err)
			}
			n++
		}
	}
	return n, nil
}

// Down rolls every component back to version 0, last component first. Tests
// use it to prove the down migrations work; operators use it only with care.
func (db *DB) Down(ctx context.Context, sets []Migrations) error {
	for i := len(sets) - 1; i >= 0; i-- {
		set := sets[i]
		ms, err := set.load(db.Dialect)
		if err != nil {
			return err
		}
		v, err := db.applied(ctx, set.Component)
		if err != nil {
			return err
		}
		for j := v - 1; j >= 0; j-- {
			mg := ms[j]
			err := db.Tx(ctx, func(q Q) error {
				if err := execScript(ctx, q, mg.down); err != nil {
					return err
				}
				_, err := q.Exec(ctx, `DELETE FROM schema_migrations WHERE component = ? AND version = ?`, set.Component, mg.version)
				return err
			})
			if err != nil {
				return fmt.Errorf("migrate %s down from %d (%s): %w", set.Component, mg.version, mg.name, err)
			}
		}
	}
	return nil
}

// execScript runs a migration file statement by statement (split at ";" at
// line ends), because not every driver runs several statements in one Exec.
// A statement may end with "-- +end" to hold semicolons inside (triggers).
func execScript(ctx context.Context, q Q, script string) error {
	for _, stmt := range splitStatements(script) {
		if _, err := q.q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%w\nin statement:\n%s", err, stmt)
		}
	}
	return nil
}

func splitStatements(script string) []string {
	var out []string
	var cur strings.Builder
	inBlock := false
	for _, line := range strings.Split(script, "\n") {
		trim := strings.TrimSpace(line)
		if trim == "-- +begin" {
			inBlock = true
			continue
		}
		if trim == "-- +end" {
			inBlock = false
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
			continue
		}
		if strings.HasPrefix(trim, "--") && !inBlock {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if !inBlock && strings.HasSuffix(trim, ";") {
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
