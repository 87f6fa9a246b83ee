package ratelimit

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the rate-limit schema; it refers to no other component.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err) // the embedded folder is always there
	}
	return sqldb.Migrations{Component: "ratelimit", FS: sub}
}

// SQL is the Limiter over filmroom's database, shared by every node.
type SQL struct {
	db  *sqldb.DB
	now func() time.Time
	// The statements, with the dialect's scalar max and min.
	allowSQL, attemptSQL string
}

var _ Limiter = (*SQL)(nil)

// NewSQL returns the limiter over db. now may be nil (time.Now).
func NewSQL(db *sqldb.DB, now func() time.Time) *SQL {
	if now == nil {
		now = time.Now
	}
	// SQLite's max() and min() with two arguments are scalar; PostgreSQL
	// spells them GREATEST and LEAST. Everything else is the same SQL.
	greatest, least := "max", "min"
	if db.Dialect == sqldb.Postgres {
		greatest, least = "GREATEST", "LEAST"
	}
	l := &SQL{db: db, now: now}
	// GCRA: the bucket's tat moves one interval per event from
	// max(tat, now); the event fits while the new tat is at most Burst
	// intervals ahead of now. A refused event leaves the row alone, so the
	// upsert returns no row. Parameters: key, first tat, now, interval,
	// limit (now + Burst·interval).
	l.allowSQL = `INSERT INTO ratelimit_buckets (key, tat) VALUES (?, CAST(? AS BIGINT))
		ON CONFLICT (key) DO UPDATE SET tat = ` + greatest + `(ratelimit_buckets.tat, CAST(? AS BIGINT)) + CAST(? AS BIGINT)
		WHERE ` + greatest + `(ratelimit_buckets.tat, CAST(? AS BIGINT)) + CAST(? AS BIGINT) <= CAST(? AS BIGINT)
		RETURNING tat`
	// Back-off: a key not seen since "stale" starts again at one attempt.
	// The delay doubles from Base once the count reaches After, up to Max.
	// A key still waiting (blocked_until in the future) is not counted, so
	// the upsert returns no row.
	const b = "ratelimit_backoff."
	stale := b + "updated_at < CAST(? AS BIGINT)"
	count := "(CASE WHEN " + stale + " THEN 1 ELSE " + b + "failures + 1 END)"
	delay := "(CASE WHEN " + count + " < CAST(? AS BIGINT) THEN 0 WHEN " + stale + " OR " + b + "delay_ms = 0 THEN CAST(? AS BIGINT) ELSE " +
		least + "(" + b + "delay_ms * 2, CAST(? AS BIGINT)) END)"
	l.attemptSQL = `INSERT INTO ratelimit_backoff (key, failures, delay_ms, blocked_until, updated_at)
		VALUES (?, 1, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))
		ON CONFLICT (key) DO UPDATE SET failures = ` + count + `, delay_ms = ` + delay + `,
			blocked_until = CAST(? AS BIGINT) + ` + delay + `, updated_at = CAST(? AS BIGINT)
		WHERE ` + b + `blocked_until <= CAST(? AS BIGINT)
		RETURNING failures`
	return l
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// Allow counts one event against r unless the bucket is empty.
func (l *SQL) Allow(ctx context.Context, key string, r Rate) (Decision, error) {
	if r.Off() {
		return Decision{Allowed: true}, nil
	}
	now := sqldb.Millis(l.now())
	iv := ms(r.interval())
	limit := now + int64(r.burst())*iv
	var tat int64
	err := l.db.Writer().QueryRow(ctx, l.allowSQL, key, now+iv, now, iv, now, iv, limit).Scan(&tat)
	if err == nil {
		return Decision{Allowed: true}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Decision{}, fmt.Errorf("rate limit %s: %w", kindOf(key), err)
	}
	// Refused: the wait is how far the next event's tat lies past the limit.
	err = l.db.Writer().QueryRow(ctx, `SELECT tat FROM ratelimit_buckets WHERE key = ?`, key).Scan(&tat)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Decision{}, fmt.Errorf("rate limit %s: %w", kindOf(key), err)
	}
	wait := time.Duration(max(tat, now)+iv-limit) * time.Millisecond
	return Decision{RetryAfter: max(wait, time.Second)}, nil
}

// Refund moves the bucket back by one interval.
func (l *SQL) Refund(ctx context.Context, key string, r Rate) error {
	if r.Off() {
		return nil
	}
	if _, err := l.db.Writer().Exec(ctx, `UPDATE ratelimit_buckets SET tat = tat - CAST(? AS BIGINT) WHERE key = ?`, ms(r.interval()), key); err != nil {
		return fmt.Errorf("refund rate limit %s: %w", kindOf(key), err)
	}
	return nil
}

// Attempt counts one attempt unless the key must still wait.
func (l *SQL) Attempt(ctx context.Context, key string, b Backoff) (Decision, error) {
	if b.Off() {
		return Decision{Allowed: true}, nil
	}
	now := sqldb.Millis(l.now())
	stale := now - ms(b.Forget)
	if b.Forget <= 0 {
		stale = 0 // never forget
	}
	base, maxDelay := ms(b.Base), ms(max(b.Max, b.Base))
	first := int64(0)
	if b.After <= 1 {
		first = base
	}
	after := int64(b.After)
	var failures int
	// The delay expression appears twice (delay_ms and blocked_until),
	// each with its own copy of the count's parameters.
	delayArgs := []any{stale, after, stale, base, maxDelay}
	args := []any{key, first, now + first, now, stale}
	args = append(args, delayArgs...)
	args = append(args, now)
	args = append(args, delayArgs...)
	args = append(args, now, now)
	err := l.db.Writer().QueryRow(ctx, l.attemptSQL, args...).Scan(&failures)
	if err == nil {
		return Decision{Allowed: true}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Decision{}, fmt.Errorf("back-off %s: %w", kindOf(key), err)
	}
	var until int64
	err = l.db.Writer().QueryRow(ctx, `SELECT blocked_until FROM ratelimit_backoff WHERE key = ?`, key).Scan(&until)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Decision{}, fmt.Errorf("back-off %s: %w", kindOf(key), err)
	}
	wait := time.Duration(until-now) * time.Millisecond
	return Decision{RetryAfter: max(wait, time.Second)}, nil
}

// Uncount takes one attempt back; a wait it already caused stays.
func (l *SQL) Uncount(ctx context.Context, key string) error {
	if _, err := l.db.Writer().Exec(ctx, `UPDATE ratelimit_backoff SET failures = failures - 1 WHERE key = ? AND failures > 0`, key); err != nil {
		return fmt.Errorf("uncount %s: %w", kindOf(key), err)
	}
	return nil
}

// Reset forgets the key's attempts.
func (l *SQL) Reset(ctx context.Context, key string) error {
	if _, err := l.db.Writer().Exec(ctx, `DELETE FROM ratelimit_backoff WHERE key = ?`, key); err != nil {
		return fmt.Errorf("reset %s: %w", kindOf(key), err)
	}
	return nil
}

// Sweep deletes full buckets and back-offs idle for longer than forget
// whose wait is over. A deleted row behaves exactly like a missing one.
func (l *SQL) Sweep(ctx context.Context, forget time.Duration) (int64, error) {
	now := sqldb.Millis(l.now())
	res, err := l.db.Writer().Exec(ctx, `DELETE FROM ratelimit_buckets WHERE tat <= ?`, now)
	if err != nil {
		return 0, fmt.Errorf("sweep rate buckets: %w", err)
	}
	n, _ := res.RowsAffected()
	res, err = l.db.Writer().Exec(ctx, `DELETE FROM ratelimit_backoff WHERE updated_at < ? AND blocked_until <= ?`, now-ms(forget), now)
	if err != nil {
		return n, fmt.Errorf("sweep back-offs: %w", err)
	}
	m, _ := res.RowsAffected()
	return n + m, nil
}

// kindOf is the readable part of a key, for errors and logs.
func kindOf(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}
