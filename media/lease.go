package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

// A processing job holds a lease on its clip (clips.lease_owner and
// lease_until) and renews it every lease/6 while it runs. River alone notices
// a dead worker only after the job timeout plus its rescue window (hours
// with the defaults); a lease that stops being renewed is noticed by the
// sweeper of any node within one lease. The sweeper takes the lease over
// ("handoff"), queues a fresh job (a new unique key, because the dead
// worker's job row still says "running") and asks River to cancel the dead
// job, so River's own rescue later cancels it instead of running it again.
// A late original that was only slow sees its lease gone at its next
// renewal, stops, and cannot mark the clip: the final update is guarded by
// the lease token.

// DefaultLease is how long a processing job may go without renewing its
// lease before another node retries it.
const DefaultLease = 45 * time.Second

// leaseHandoff holds a clip's lease between the sweeper queueing a retry and
// a worker claiming it.
const leaseHandoff = "handoff"

// maxLeaseLosses is how many dead workers a clip may cost before it is
// failed: a file that kills ffmpeg's host (out of memory) must not do so
// forever.
const maxLeaseLosses = 3

// Notices a person sees on a clip while its worker is gone.
const (
	// NoticeWorkerSilent is shown once the lease ran out and until a
	// sweeper queues the retry.
	NoticeWorkerSilent = "The worker processing this clip stopped responding; it will be retried shortly."
	noticeRetrying     = "The worker processing this clip stopped; retrying (%d of %d)."
)

var errLeaseLost = errors.New("another worker took over this clip")

// leases reads and writes the lease columns of clips.
type leases struct {
	db  *sqldb.DB
	ttl time.Duration
	now func() time.Time
	log *slog.Logger
}

func (l *leases) until() int64 { return sqldb.Millis(l.now().Add(l.ttl)) }

// claim takes a clip's lease for one attempt when nobody holds it, it ran
// out, or a sweeper handed it off. false means a living worker holds it (or
// the clip is gone).
func (l *leases) claim(ctx context.Context, clipID, token string, jobID int64) (bool, error) {
	res, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_owner = ?, lease_until = ?, lease_job = ?
		WHERE id = ? AND (lease_owner = '' OR lease_owner = ? OR lease_until < ?)`,
		token, l.until(), jobID, clipID, leaseHandoff, sqldb.Millis(l.now()))
	if err != nil {
		return false, fmt.Errorf("claim lease of clip %s: %w", clipID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// renew extends a held lease; false means it was taken over.
func (l *leases) renew(ctx context.Context, clipID, token string) (bool, error) {
	res, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_until = ? WHERE id = ? AND lease_owner = ?`, l.until(), clipID, token)
	if err != nil {
		return false, fmt.Errorf("renew lease of clip %s: %w", clipID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// release gives a held lease up (the attempt ended, well or not).
func (l *leases) release(ctx context.Context, clipID, token string) error {
	_, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_owner = '', lease_until = 0, lease_job = 0 WHERE id = ? AND lease_owner = ?`, clipID, token)
	if err != nil {
		return fmt.Errorf("release lease of clip %s: %w", clipID, err)
	}
	return nil
}

// keep renews the lease until stop is called or ctx ends, and calls lost
// when another worker took the lease over. A renewal that fails (the
// database is away) is tried again at the next tick: while the database is
// down nobody can take the lease over either.
func (l *leases) keep(ctx context.Context, clipID, token string, lost context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(l.ttl / 6)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			held, err := l.renew(ctx, clipID, token)
			switch {
			case err != nil:
				l.log.Warn("Could not renew the lease of a clip being processed; trying again.", "clip_id", clipID, "error", err)
			case !held:
				l.log.Warn("Another worker took over a clip being processed; stopping this attempt.", "clip_id", clipID)
				lost(errLeaseLost)
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// expiredLease is a clip whose lease ran out.
type expiredLease struct {
	clipID, owner string
	until, job    int64
	losses        int
}

func (l *leases) expired(ctx context.Context) ([]expiredLease, error) {
	rows, err := l.db.Reader().Query(ctx, `SELECT id, lease_owner, lease_until, lease_job, lease_losses FROM clips
		WHERE lease_owner <> '' AND lease_until < ? ORDER BY lease_until LIMIT 100`, sqldb.Millis(l.now()))
	if err != nil {
		return nil, fmt.Errorf("find expired leases: %w", err)
	}
	defer rows.Close()
	var out []expiredLease
	for rows.Next() {
		var e expiredLease
		if err := rows.Scan(&e.clipID, &e.owner, &e.until, &e.job, &e.losses); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// takeOver moves an expired lease to the handoff state, once across all
// nodes (compare-and-set on owner and until). A worker's lease counts as
// one loss and tells the clip's viewers; a handoff whose retry never
// started is only renewed.
func (l *leases) takeOver(ctx context.Context, e expiredLease) (bool, error) {
	q := `UPDATE clips SET lease_owner = ?, lease_until = ?, lease_job = 0 WHERE id = ? AND lease_owner = ? AND lease_until = ?`
	args := []any{leaseHandoff, l.until(), e.clipID, e.owner, e.until}
	if e.owner != leaseHandoff {
		q = `UPDATE clips SET lease_owner = ?, lease_until = ?, lease_job = 0, lease_losses = lease_losses + 1, progress = 0, notice = ?
			WHERE id = ? AND lease_owner = ? AND lease_until = ?`
		args = []any{leaseHandoff, l.until(), fmt.Sprintf(noticeRetrying, e.losses+1, maxLeaseLosses), e.clipID, e.owner, e.until}
	}
	res, err := l.db.Writer().Exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("take over lease of clip %s: %w", e.clipID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// handedOff records the retry job that will claim a handed-off lease.
func (l *leases) handedOff(ctx context.Context, clipID string, jobID int64) error {
	_, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_job = ? WHERE id = ? AND lease_owner = ?`, jobID, clipID, leaseHandoff)
	if err != nil {
		return fmt.Errorf("record retry job of clip %s: %w", clipID, err)
	}
	return nil
}

// extendHandoff keeps a handoff whose retry job is still queued.
func (l *leases) extendHandoff(ctx context.Context, clipID string) error {
	_, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_until = ? WHERE id = ? AND lease_owner = ?`, l.until(), clipID, leaseHandoff)
	if err != nil {
		return fmt.Errorf("extend handoff of clip %s: %w", clipID, err)
	}
	return nil
}

// drop clears a lease for good (the clip failed).
func (l *leases) drop(ctx context.Context, clipID string) error {
	_, err := l.db.Writer().Exec(ctx, `UPDATE clips SET lease_owner = '', lease_until = 0, lease_job = 0 WHERE id = ? AND lease_owner = ?`, clipID, leaseHandoff)
	if err != nil {
		return fmt.Errorf("drop lease of clip %s: %w", clipID, err)
	}
	return nil
}
