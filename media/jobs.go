package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
}

// Jobs is the media job queue on River: SQLite's driver by default,
// PostgreSQL's pgx driver at scale. Jobs live in the database, so they
// survive restarts; a job whose worker died is rescued after its timeout.
type Jobs struct {
	insert func(ctx context.Context, args river.JobArgs) error
	start  func(ctx context.Context) error
	stop   func(ctx context.Context) error
	close  func()
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
	workers := river.NewWorkers()
	river.AddWorker(workers, &processWorker{p: p, timeout: cfg.Timeout})
	river.AddWorker(workers, &captionsWorker{cap: cap, timeout: cfg.Timeout})
	rcfg := &river.Config{
		Logger:               log.With("component", "river"),
		Workers:              workers,
		JobTimeout:           cfg.Timeout,
		RescueStuckJobsAfter: cfg.Timeout + 5*time.Minute,
		MaxAttempts:          maxAttempts,
		FetchPollInterval:    500 * time.Millisecond,
		FetchCooldown:        100 * time.Millisecond,
	}
	if cfg.Workers > 0 {
		rcfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
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
		return newJobs(driver, rcfg, func() {})
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
		}
		return j, err
	}
	return nil, fmt.Errorf("job queue: unsupported database %s", db.Dialect)
}

func newJobs[TTx any](driver riverdriver.Driver[TTx], cfg *river.Config, closeFn func()) (*Jobs, error) {
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	return &Jobs{
		insert: func(ctx context.Context, args river.JobArgs) error {
			_, err := client.Insert(ctx, args, &river.InsertOpts{MaxAttempts: maxAttempts,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
					rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}})
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
	return j.insert(ctx, ProcessArgs{ClipID: clipID})
}

// EnqueueCaptions queues captioning of a clip.
func (j *Jobs) EnqueueCaptions(ctx context.Context, clipID string) error {
	return j.insert(ctx, CaptionsArgs{ClipID: clipID})
}

// EnqueueCaptionsAgain queues captioning of a clip that a person asked for.
func (j *Jobs) EnqueueCaptionsAgain(ctx context.Context, clipID string) error {
	return j.insert(ctx, CaptionsArgs{ClipID: clipID, Request: id.New()})
}

// Start runs the workers until Stop.
func (j *Jobs) Start(ctx context.Context) error { return j.start(ctx) }

// Stop lets running jobs finish (until ctx ends) and releases the queue.
func (j *Jobs) Stop(ctx context.Context) error {
	err := j.stop(ctx)
	j.close()
	return err
}

type processWorker struct {
	river.WorkerDefaults[ProcessArgs]
	p       *Pipeline
	timeout time.Duration
}

func (w *processWorker) Timeout(*river.Job[ProcessArgs]) time.Duration { return w.timeout }

func (w *processWorker) Work(ctx context.Context, job *river.Job[ProcessArgs]) error {
	err := w.p.Process(ctx, job.Args.ClipID)
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrRejected) {
		return river.JobCancel(err) // the file itself is wrong: retrying cannot help
	}
	if errors.Is(err, apperr.ErrInsufficientStorage) {
		// Nothing was started; wait for space without using up attempts.
		w.p.Log.Warn("Not enough disk space to process a clip; trying again later.", "clip_id", job.Args.ClipID, "error", err)
		return river.JobSnooze(SpaceRetry)
	}
	if job.Attempt >= job.MaxAttempts {
		reason := "We could not process this video after several tries. Try uploading it again; if it fails again, export it as MP4 (H.264) first."
		if ferr := w.p.Fail(context.WithoutCancel(ctx), job.Args.ClipID, "processing_failed", reason); ferr != nil {
			err = errors.Join(err, ferr)
		}
	}
	w.p.Log.Warn("Processing attempt failed.", "clip_id", job.Args.ClipID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "error", err)
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
