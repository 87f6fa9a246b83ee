package policy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

// CacheTTL is how long a node uses the policy it read before reading it
// again: every clip request consults it.
const CacheTTL = 5 * time.Second

// Store keeps the policy in the database, with a short per-node cache.
type Store struct {
	db  *sqldb.DB
	now func() time.Time

	mu     sync.Mutex
	cached Policy
	until  time.Time
}

// NewStore returns the policy store; now may be nil (time.Now).
func NewStore(db *sqldb.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// Current returns the policy in force, from the cache when it is fresh.
func (s *Store) Current(ctx context.Context) (Policy, error) {
	s.mu.Lock()
	if s.now().Before(s.until) {
		p := s.cached
		s.mu.Unlock()
		return p, nil
	}
	s.mu.Unlock()
	return s.Fresh(ctx)
}

// Fresh reads the policy from the database (the retention job and the
// settings page use it, so they never act on a stale copy).
func (s *Store) Fresh(ctx context.Context) (Policy, error) {
	p := Default()
	var updated int64
	var by string
	err := s.db.Reader().QueryRow(ctx, `SELECT require_consent, downloads_allowed, retention_mode, retention_days, retention_date,
		warn_days, allow_keep, max_keep_days, updated_at, updated_by FROM privacy_policy WHERE id = 1`).Scan(
		&p.RequireConsent, &p.DownloadsAllowed, &p.Retention.Mode, &p.Retention.Days, &p.Retention.Date,
		&p.Retention.WarnDays, &p.Retention.AllowKeep, &p.Retention.MaxKeepDays, &updated, &by)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		p = Default()
	case err != nil:
		return Policy{}, fmt.Errorf("read the privacy policy: %w", err)
	default:
		t := sqldb.Time(updated)
		p.UpdatedAt, p.UpdatedBy = &t, by
	}
	s.mu.Lock()
	s.cached, s.until = p, s.now().Add(CacheTTL)
	s.mu.Unlock()
	return p, nil
}

// Save validates and stores p as saved by userID, and returns it as read
// back.
func (s *Store) Save(ctx context.Context, p Policy, userID string) (Policy, error) {
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	r := p.Retention
	// The same upsert on SQLite and PostgreSQL (both know ON CONFLICT).
	_, err := s.db.Writer().Exec(ctx, `INSERT INTO privacy_policy (id, require_consent, downloads_allowed, retention_mode, retention_days,
		retention_date, warn_days, allow_keep, max_keep_days, updated_at, updated_by) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET require_consent = excluded.require_consent, downloads_allowed = excluded.downloads_allowed,
		retention_mode = excluded.retention_mode, retention_days = excluded.retention_days, retention_date = excluded.retention_date,
		warn_days = excluded.warn_days, allow_keep = excluded.allow_keep, max_keep_days = excluded.max_keep_days,
		updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		p.RequireConsent, p.DownloadsAllowed, r.Mode, r.Days, r.Date, r.WarnDays, r.AllowKeep, r.MaxKeepDays, sqldb.Millis(s.now()), userID)
	if err != nil {
		return Policy{}, fmt.Errorf("save the privacy policy: %w", err)
	}
	return s.Fresh(ctx)
}
