package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// ProcessArgs is the job that probes, validates and transcodes a clip.
type ProcessArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	// Retry tells a sweeper's retry of a clip whose worker died from the
	// first job, whose row River still records as running.
	Retry string `json:"retry,omitempty" river:"unique"`
}

// Kind names the job type in River.
func (ProcessArgs) Kind() string { return "media.process" }

// CaptionsArgs is the job that captions a ready clip.
type CaptionsArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	// Request tells a person's request to caption again from the automatic
	// job (empty), so the queue does not drop it as a duplicate of a job it
	// still records as running.
	Request string `json:"request,omitempty" river:"unique"`
}

// Kind names the job type in River.
func (CaptionsArgs) Kind() string { return "media.captions" }

// Attempts before a job's failure is final.
const maxAttempts = 3

// Captioner captions a clip; the captions step satisfies it.
type Captioner interface {
	Caption(ctx context.Context, clipID string, attempt, maxAttempts int) error
}

// JobsConfig configures the media job queue.
type JobsConfig struct {
	// Workers is how many jobs this process runs at once; 0 makes an
	// insert-only client (a web node that leaves work to worker nodes).
	Workers int
	// Timeout bounds one processing job.
	Timeout time.Duration
	// Lease is how long a processing job may go without renewing its lease
	// before a sweeper retries it elsewhere (0: DefaultLease). The job
	// renews it, and every node sweeps, every Lease/6.
	Lease time.Duration
}

// Jobs is the media job queue on River: SQLite's driver by default,
// PostgreSQL's pgx driver at scale. Jobs live in the database, so they
// survive restarts; a processing job whose worker died is retried within a
// lease (see lease.go), other jobs are rescued by River after their timeout.
type Jobs struct {
	insert func(ctx context.Context, args river.JobArgs, at placement) (int64, error)
	get    func(ctx context.Context, jobID int64) (*rivertype.JobRow, error)
	cancel func(ctx context.Context, jobID int64) error
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()

	leases *leases
	p      *Pipeline
	log    *slog.Logger
	// sweeping ends the sweeper; swept is closed when it has returned.
	sweeping context.CancelFunc
	swept    chan struct{}
}

// Migrate applies River's own schema migrations.
func migrateRiver[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], log *slog.Logger) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: log})
	if err != nil {
		return fmt.Errorf("river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	return nil
}

// NewJobs builds the queue over db, migrating River's tables when migrate
// is set. p runs process jobs and cap caption jobs (cap may be nil).
func NewJobs(ctx context.Context, db *sqldb.DB, cfg JobsConfig, p *Pipeline, cap Captioner, migrate bool, log *slog.Logger) (*Jobs, error) {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	ls := &leases{db: db, ttl: cfg.Lease, now: time.Now, log: log}
	workers := river.NewWorkers()
	river.AddWorker(workers, &processWorker{p: p, timeout: cfg.Timeout, leases: ls, retryAfter: cfg.Lease / 3})
	river.AddWorker(workers, &captionsWorker{cap: cap, timeout: cfg.Timeout})
	river.AddWorker(workers, &ladderWorker{pw: &processWorker{p: p, timeout: cfg.Timeout, leases: ls, retryAfter: cfg.Lease / 3}})
	river.AddWorker(workers, &redactWorker{p: p, timeout: cfg.Timeout})
	river.AddWorker(workers, &ladderChunkWorker{p: p, timeout: cfg.Timeout, lease: cfg.Lease})
	rcfg := &river.Config{
		Logger:               log.With("component", "river"),
		Workers:              workers,
		JobTimeout:           cfg.Timeout,
		RescueStuckJobsAfter: cfg.Timeout + 5*time.Minute,
		MaxAttempts:          maxAttempts,
		// SQLite has no notifications, so a new upload's job waits for the
		// next poll: every 200 ms keeps that a small part of fast start
		// (one cheap indexed query per queue).
		FetchPollInterval: 200 * time.Millisecond,
		FetchCooldown:     100 * time.Millisecond,
	}
	if cfg.Workers > 0 {
		// Jobs that make a clip playable have their own queue, so a new
		// upload never waits behind another clip's ladder or captions.
		rcfg.Queues = map[string]river.QueueConfig{
			QueuePlayable:   {MaxWorkers: cfg.Workers},
			QueueBackground: {MaxWorkers: cfg.Workers},
		}
	}
	switch db.Dialect {
	case sqldb.SQLite:
		// River shares the single writer connection, so its writes queue
		// behind ours instead of failing with SQLITE_BUSY.
		driver := riversqlite.New(db.W)
		if migrate {
			if err := migrateRiver(ctx, driver, log); err != nil {
				return nil, err
			}
		}
		// SQLite has no LISTEN/NOTIFY: poll.
		rcfg.PollOnly = true
		j, err := newJobs(driver, rcfg, func() {})
		if err == nil {
			j.leases, j.p, j.log = ls, p, log
		}
		return j, err
	case sqldb.Postgres:
		pool, err := pgxpool.New(ctx, db.URL)
		if err != nil {
			return nil, fmt.Errorf("open job queue pool: %w", err)
		}
		driver := riverpgxv5.New(pool)
		if migrate {
			if err := migrateRiver(ctx, driver, log); err != nil {
				pool.Close()
				return nil, err
			}
		}
		j, err := newJobs[pgx.Tx](driver, rcfg, pool.Close)
		if err != nil {
			pool.Close()
			return nil, err
		}
		j.leases, j.p, j.log = ls, p, log
		return j, nil
	}
	return nil, fmt.Errorf("job queue: unsupported database %s", db.Dialect)
}

func newJobs[TTx any](driver riverdriver.Driver[TTx], cfg *river.Config, closeFn func()) (*Jobs, error) {
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return &Jobs{
		insert: func(ctx context.Context, args river.JobArgs, at placement) (int64, error) {
			res, err := client.Insert(ctx, args, &river.InsertOpts{MaxAttempts: maxAttempts, Queue: at.queue, Priority: at.priority,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
					rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}})
			if err != nil {
				return 0, err
			}
			return res.Job.ID, nil
		},
		get: func(ctx context.Context, jobID int64) (*rivertype.JobRow, error) { return client.JobGet(ctx, jobID) },
		cancel: func(ctx context.Context, jobID int64) error {
			_, err := client.JobCancel(ctx, jobID)
			return err
		},
		start: func(ctx context.Context) error {
			if len(cfg.Queues) == 0 {
				return nil
			}
			return client.Start(ctx)
		},
		stop: func(ctx context.Context) error {
			if len(cfg.Queues) == 0 {
				return nil
			}
			return client.Stop(ctx)
		},
		close: closeFn,
	}, nil
}

// EnqueueProcess queues processing of a clip (once: a clip already queued
// or running is not queued again).
func (j *Jobs) EnqueueProcess(ctx context.Context, clipID string) error {
	_, err := j.insert(ctx, ProcessArgs{ClipID: clipID}, j.playable(ctx, clipID))
	return err
}

// EnqueueCaptions queues captioning of a clip.
func (j *Jobs) EnqueueCaptions(ctx context.Context, clipID string) error {
	_, err := j.insert(ctx, CaptionsArgs{ClipID: clipID}, j.background(ctx, clipID))
	return err
}

// EnqueueCaptionsAgain queues captioning of a clip that a person asked for.
func (j *Jobs) EnqueueCaptionsAgain(ctx context.Context, clipID string) error {
	_, err := j.insert(ctx, CaptionsArgs{ClipID: clipID, Request: id.New()}, j.background(ctx, clipID))
	return err
}

// Start runs the workers until Stop, and on every node (workers or not)
// the sweeper that retries processing jobs whose worker died.
func (j *Jobs) Start(ctx context.Context) error {
	if err := j.start(ctx); err != nil {
		return err
	}
	if j.p != nil && j.sweeping == nil {
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		j.sweeping, j.swept = cancel, make(chan struct{})
		go j.sweepLoop(sctx)
	}
	return nil
}

// Stop lets running jobs finish (until ctx ends) and releases the queue.
func (j *Jobs) Stop(ctx context.Context) error {
	if j.sweeping != nil {
		j.sweeping()
		<-j.swept
	}
	err := j.stop(ctx)
	j.close()
	return err
}

func (j *Jobs) sweepLoop(ctx context.Context) {
	defer close(j.swept)
	t := time.NewTicker(j.leases.ttl / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := j.sweep(ctx); err != nil && ctx.Err() == nil {
			j.log.Warn("Could not sweep for processing jobs whose worker stopped; trying again.", "error", err)
		}
	}
}

// sweep retries the processing of every clip whose lease ran out. Several
// nodes may sweep at once; takeOver lets exactly one of them act.
func (j *Jobs) sweep(ctx context.Context) error {
	expired, err := j.leases.expired(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range expired {
		if err := j.retry(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (j *Jobs) retry(ctx context.Context, e expiredLease) error {
	if e.owner == leaseHandoff && e.job != 0 {
		// The retry was queued; it may wait behind other jobs for longer
		// than a lease. Queue another only when that one is gone.
		row, err := j.get(ctx, e.job)
		if err == nil && row.FinalizedAt == nil {
			return j.leases.extendHandoff(ctx, e.clipID)
		}
		if err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("look up retry job %d of clip %s: %w", e.job, e.clipID, err)
		}
	}
	ok, err := j.leases.takeOver(ctx, e)
	if err != nil || !ok {
		return err // !ok: another node got there first
	}
	if e.owner != leaseHandoff {
		j.log.Warn("A worker stopped while processing a clip; retrying it.", "clip_id", e.clipID, "job_id", e.job,
			"lease_expired_ms", sqldb.Millis(j.leases.now())-e.until, "losses", e.losses+1)
		if e.job != 0 {
			// The dead worker's row stays "running" until River's rescue,
			// which then cancels it instead of running it a second time.
			if err := j.cancel(ctx, e.job); err != nil && !errors.Is(err, river.ErrNotFound) {
				j.log.Warn("Could not cancel the job of a stopped worker; a late retry of it will find the clip done.", "job_id", e.job, "error", err)
			}
		}
		if e.losses+1 > maxLeaseLosses {
			reason := "Processing this video stopped the server several times. Export it as MP4 (H.264) at a lower resolution and upload it again."
			if err := j.p.Fail(ctx, e.clipID, "processing_crashed", reason); err != nil {
				return err
			}
			return j.leases.drop(ctx, e.clipID)
		}
	}
	args, at := j.retryJob(ctx, e.clipID)
	jobID, err := j.insert(ctx, args, at)
	if err != nil {
		// The handoff runs out in one lease and the next sweep queues again.
		return fmt.Errorf("queue retry of clip %s: %w", e.clipID, err)
	}
	return j.leases.handedOff(ctx, e.clipID, jobID)
}

type processWorker struct {
	river.WorkerDefaults[ProcessArgs]
	p       *Pipeline
	timeout time.Duration
	leases  *leases
	// retryAfter is how long a job waits for storage that is away.
	retryAfter time.Duration
}

// maxUnavailableWait bounds how long a processing job waits for storage or
// the database before its attempts count again.
const maxUnavailableWait = 24 * time.Hour

// NoticeStorageAway is shown while a clip waits for storage to come back.
const NoticeStorageAway = "The file storage is unavailable; processing continues when it is back."

// unavailable tells errors of a dependency that is away (a refused or
// dropped connection to object storage or the database) from errors of
// the work itself.
func unavailable(err error) bool {
	var opErr *net.OpError
	return sqldb.IsUnavailable(err) || errors.As(err, &opErr)
}

func (w *processWorker) Timeout(*river.Job[ProcessArgs]) time.Duration { return w.timeout }

func (w *processWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	return w.work(ctx, job.Args.ClipID, jobInfo{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, CreatedAt: job.CreatedAt})
}

// jobInfo is what work needs of a River job, whatever its arguments.
type jobInfo struct {
	ID                   int64
	Attempt, MaxAttempts int
	CreatedAt            time.Time
}

// work runs the pipeline for the clip under its lease: whichever step the
// clip is at (making it playable, or its full ladder).
func (w *processWorker) work(ctx context.Context, clipID string, job jobInfo) error {
	token := id.New()
	held, err := w.leases.claim(ctx, clipID, token, job.ID)
	if err != nil {
		return err
	}
	if !held {
		if w.leases.heldByOtherStep(ctx, clipID, job.ID) {
			// The processing job that queued this ladder has not let go
			// of the lease yet (another node fetched the ladder at once).
			return river.JobSnooze(w.leases.ttl / 6)
		}
		// A living worker holds the lease (or the clip is gone): this is a
		// late copy of the job, and the holder finishes the work.
		w.p.Log.Info("Another worker is processing this clip; leaving it.", "clip_id", clipID, "job_id", job.ID)
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := w.leases.keep(ctx, clipID, token, cancel)
	err = w.p.process(ctx, clipID, token)
	stop()
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	if rerr := w.leases.release(rctx, clipID, token); rerr != nil {
		w.p.Log.Warn("Could not release a clip's lease; it runs out by itself.", "clip_id", clipID, "error", rerr)
	}
	rcancel()
	if errors.Is(context.Cause(ctx), errLeaseLost) || errors.Is(err, errLeaseLost) {
		return nil // the worker that took over reports the outcome
	}
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrRejected) {
		return river.JobCancel(err) // the file itself is wrong: retrying cannot help
	}
	if errors.Is(err, apperr.ErrInsufficientStorage) {
		// Nothing was started; wait for space without using up attempts.
		w.p.Log.Warn("Not enough disk space to process a clip; trying again later.", "clip_id", clipID, "error", err)
		return river.JobSnooze(SpaceRetry)
	}
	if unavailable(err) && time.Since(job.CreatedAt) < maxUnavailableWait {
		// Storage or the database is away: wait for it without spending
		// one of the clip's attempts (a snooze does not count), so an
		// outage of minutes does not fail every clip in the queue.
		w.p.Log.Warn("Processing waits for storage or the database to come back.", "clip_id", clipID, "retry_in", w.retryAfter.String(), "error", err)
		nctx, ncancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = w.p.Clips.db.Writer().Exec(nctx, `UPDATE clips SET notice = ? WHERE id = ?`, NoticeStorageAway, clipID)
		ncancel()
		return river.JobSnooze(w.retryAfter)
	}
	if job.Attempt >= job.MaxAttempts {
		reason := "We could not process this video after several tries. Try uploading it again; if it fails again, export it as MP4 (H.264) first."
		if ferr := w.p.Fail(context.WithoutCancel(ctx), clipID, "processing_failed", reason); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	w.p.Log.Warn("Processing attempt failed.", "clip_id", clipID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "error", err)
	return err
}

// SpaceRetry is how long a transcode that found too little disk space
// waits before it looks again.
const SpaceRetry = 5 * time.Minute

type captionsWorker struct {
	river.WorkerDefaults[CaptionsArgs]
	cap     Captioner
	timeout time.Duration
}

func (w *captionsWorker) Timeout(*river.Job[CaptionsArgs]) time.Duration { return w.timeout }

func (w *captionsWorker) Work(ctx context.Context, job *river.Job[CaptionsArgs]) error {
	if w.cap == nil {
		return nil
	}
	return w.cap.Caption(ctx, job.Args.ClipID, job.Attempt, job.MaxAttempts)
}
