// Package sqldb opens filmroom's metadata database (SQLite by default,
// PostgreSQL at scale) and runs the numbered SQL migrations that each domain
// package embeds. It hides the few connection-level differences between the
// two; SQL differences stay in each store, commented where they occur.
//
// Stores write their queries with "?" placeholders; DB rebinds them to
// "$1, $2, …" on PostgreSQL. Times are stored as BIGINT Unix milliseconds on
// both dialects so that one SQL text serves both.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL flavour behind a DB.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is a pair of pools over one database. On SQLite, W has exactly one
// connection: SQLite allows one writer at a time, and funnelling writes
// through one connection turns SQLITE_BUSY storms into an orderly queue,
// while R serves concurrent readers from the WAL. On PostgreSQL both are the
// same pool.
type DB struct {
	Dialect Dialect
	W       *sql.DB
	R       *sql.DB
	// URL is the address the database was opened with (for River and logs);
	// it carries no password for SQLite.
	URL string

	readStmts, writeStmts *stmtCache
}

// Open opens "sqlite:<path>" (or a bare path ending in .db) or a
// "postgres://" URL.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//"))
	case strings.HasSuffix(rawURL, ".db"):
		return openSQLite(ctx, rawURL)
	default:
		return nil, fmt.Errorf("open database: %q is neither sqlite:<path> nor postgres://…", rawURL)
	}
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: sqlite path is empty")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open database: create %s: %w", dir, err)
		}
	}
	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	// BEGIN IMMEDIATE takes the write lock up front, so a transaction never
	// fails half-way when it upgrades from reading to writing.
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	rq := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "busy_timeout(10000)", "query_only(1)"} {
		rq.Add("_pragma", p)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
	}
	// Idle connections are kept, all of them: the default keeps two, so
	// under load the other six were closed and reopened all the time, and
	// every new connection read the schema and prepared each statement
	// again (8% of a loaded annotation page's CPU).
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	// pgx caches prepared statements itself; modernc's SQLite driver does
	// not, and parsing was a third of a cached annotation page's CPU. The
	// driver is built with SQLITE_ENABLE_STAT4, so filmroom never runs
	// ANALYZE (or PRAGMA optimize) on SQLite: with stat4 samples, SQLite
	// re-prepares a statement whenever a parameter that could change its
	// plan is bound, which is every execution of most of ours.
	return &DB{Dialect: SQLite, W: w, R: r, URL: "sqlite:" + path, readStmts: newStmtCache(r), writeStmts: newStmtCache(w)}, nil
}

func openPostgres(ctx context.Context, rawURL string) (*DB, error) {
	p, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	p.SetMaxOpenConns(32)
	p.SetMaxIdleConns(16)
	p.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.PingContext(pctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &DB{Dialect: Postgres, W: p, R: p, URL: rawURL}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	db.readStmts.close()
	db.writeStmts.close()
	err := db.W.Close()
	if db.R != db.W {
		err = errors.Join(err, db.R.Close())
	}
	return err
}

// Ping checks the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error { return db.R.PingContext(ctx) }

// Rebind turns "?" placeholders into "$n" on PostgreSQL. Queries must not
// contain a literal "?" (none of ours do).
func (db *DB) Rebind(q string) string {
	if db.Dialect != Postgres {
		return q
	}
	// Whole runs between placeholders are copied at once: every query on
	// PostgreSQL passes through here, and byte-by-byte copying of the
	// longer ones (Authorize's is 2 KB) was 5% of a cached request's CPU.
	var b strings.Builder
	b.Grow(len(q) + 16)
	for n := 1; ; n++ {
		i := strings.IndexByte(q, '?')
		if i < 0 {
			b.WriteString(q)
			return b.String()
		}
		b.WriteString(q[:i])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
		q = q[i+1:]
	}
}

// Querier is what both *sql.DB and *sql.Tx offer; stores take it so one
// function serves inside and outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q wraps a Querier so that every query is rebound for the dialect.
type Q struct {
	db *DB
	q  Querier
	// stmts, when set, prepares each query once per pool (SQLite's driver
	// would otherwise parse every query on every call).
	stmts *stmtCache
}

// Exec runs a statement.
func (x Q) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := x.stmts.get(ctx, x.db.Rebind(query)); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return x.q.ExecContext(ctx, x.db.Rebind(query), args...)
}

// Query runs a query returning rows.
func (x Q) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := x.stmts.get(ctx, x.db.Rebind(query)); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return x.q.QueryContext(ctx, x.db.Rebind(query), args...)
}

// QueryRow runs a query returning at most one row.
func (x Q) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := x.stmts.get(ctx, x.db.Rebind(query)); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return x.q.QueryRowContext(ctx, x.db.Rebind(query), args...)
}

// stmtCache keeps prepared statements of one pool, at most max of them; a
// query that fails to prepare (or a full cache) runs unprepared.
type stmtCache struct {
	pool  *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	max   int
}

func newStmtCache(pool *sql.DB) *stmtCache {
	return &stmtCache{pool: pool, stmts: map[string]*sql.Stmt{}, max: 512}
}

func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, ok := c.stmts[query]
	c.mu.Unlock()
	if ok {
		return st
	}
	st, err := c.pool.PrepareContext(context.WithoutCancel(ctx), query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok {
		st.Close()
		return prev
	}
	if len(c.stmts) >= c.max {
		st.Close()
		return nil
	}
	c.stmts[query] = st
	return st
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = map[string]*sql.Stmt{}
}

// Dialect tells which SQL flavour the query runs on.
func (x Q) Dialect() Dialect { return x.db.Dialect }

// Reader returns a Q over the read pool.
func (db *DB) Reader() Q { return Q{db: db, q: db.R, stmts: db.readStmts} }

// Writer returns a Q over the write pool, for single statements.
func (db *DB) Writer() Q { return Q{db: db, q: db.W, stmts: db.writeStmts} }

// Tx runs fn in a write transaction, committing when fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(q Q) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(Q{db: db, q: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure, which
// stores turn into a conflict a person can understand.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	// SQLite: "UNIQUE constraint failed"; PostgreSQL: SQLSTATE 23505.
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505")
}

// Millis returns t as the Unix milliseconds the schema stores.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// Time turns stored Unix milliseconds back into a UTC time.
func Time(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// NullTime turns a nullable millisecond column into a *time.Time.
func NullTime(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := Time(ms.Int64)
	return &t
}

// In returns "?, ?, ?" for n placeholders, for IN lists.
func In(n int) string {
	if n <= 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
