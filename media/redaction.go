package media

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media/redact"
	"github.com/filmroom/filmroom/media/storage"
	"github.com/filmroom/filmroom/media/transcode"
)

// Redaction: the owner's plan (media/redact) is burned into a new master
// that replaces the clip's source, every rendition, the poster, the
// thumbnails, the waveform and the download are made again from it, and
// the unredacted ones are deleted. Captions stay (they do not show the
// picture); a plan with mutes asks for automatic captions again, so the
// machine transcript no longer holds what was muted. The unredacted
// original is deleted too, unless the site keeps originals for a while
// (Pipeline.KeepOriginals): then it is kept under originalKey, for its
// owner alone, until PurgeOriginals removes it.

// originalKey is where a kept unredacted original waits for its purge
// (under the clip's prefix, so a hard delete removes it too).
func originalKey(clipID string) string { return clipPrefix(clipID) + "redaction/original" }

// Redaction statuses.
const (
	RedactionQueued  = "queued"
	RedactionRunning = "running"
	RedactionFailed  = "failed"
)

// MaxRedactionBody bounds a plan's JSON: 32 boxes of 240 keyframes is
// about 400 kB.
const MaxRedactionBody = 512 << 10

// Redaction is a clip's redaction as its owner sees it.
type Redaction struct {
	ClipID string      `json:"clip_id"`
	Plan   redact.Plan `json:"plan"`
	// Applied lists the plans already burned into the master, oldest first.
	Applied  []AppliedPlan `json:"applied"`
	Status   string        `json:"status"`
	Progress float64       `json:"progress"`
	Failure  string        `json:"failure,omitempty"`
	// OriginalUntil is when the kept unredacted original is deleted; nil
	// when none is kept.
	OriginalUntil *time.Time `json:"original_until,omitempty"`
	AppliedAt     *time.Time `json:"applied_at,omitempty"`
	// KeepOriginalsMS is how long this site keeps an unredacted original
	// after a redaction (0: it is deleted), for the confirmation.
	KeepOriginalsMS int64 `json:"keep_originals_ms"`
}

// AppliedPlan is one plan burned into the master.
type AppliedPlan struct {
	Plan redact.Plan `json:"plan"`
	At   time.Time   `json:"at"`
}

// RedactArgs is the job that burns a clip's plan into its master.
type RedactArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	// Request tells one apply from the next, so the queue does not drop
	// it as a duplicate of the job of the last apply while River still
	// records that one as running.
	Request string `json:"request" river:"unique"`
}

// Kind names the job type in River.
func (RedactArgs) Kind() string { return "media.redact" }

// EnqueueRedact queues the redaction of a clip.
func (j *Jobs) EnqueueRedact(ctx context.Context, clipID string) error {
	_, err := j.insert(ctx, RedactArgs{ClipID: clipID, Request: id.New()}, j.background(ctx, clipID))
	return err
}

type redactWorker struct {
	river.WorkerDefaults[RedactArgs]
	p       *Pipeline
	timeout time.Duration
}

// ladderWait is how long a redaction waits for a clip's ladder to finish
// before it looks again.
const ladderWait = 10 * time.Second

func (w *redactWorker) Timeout(*river.Job[RedactArgs]) time.Duration { return w.timeout }

func (w *redactWorker) Work(ctx context.Context, job *river.Job[RedactArgs]) error {
	// The ladder of a fast-started clip is encoded from the source this job
	// replaces: wait until it is done, so that it cannot land renditions
	// made from the unredacted source over the redacted ones.
	var ladder string
	if err := w.p.Clips.db.Reader().QueryRow(ctx, `SELECT ladder_state FROM clips WHERE id = ?`, job.Args.ClipID).Scan(&ladder); err == nil && ladder == LadderPending {
		return river.JobSnooze(ladderWait)
	}
	err := w.p.redact(ctx, job.Args.ClipID)
	if err == nil || errors.Is(err, ErrClipDeleted) {
		return nil
	}
	if errors.Is(err, apperr.ErrInsufficientStorage) {
		return river.JobSnooze(SpaceRetry)
	}
	w.p.Log.Warn("Redaction attempt failed.", "clip_id", job.Args.ClipID, "attempt", job.Attempt, "error", err)
	if job.Attempt >= job.MaxAttempts || errors.Is(err, ErrRejected) {
		_, ferr := w.p.Clips.db.Writer().Exec(context.WithoutCancel(ctx), `UPDATE clip_redactions SET status = ?, failure = ?, updated_at = ? WHERE clip_id = ?`,
			RedactionFailed, "The redaction could not be applied; the clip is unchanged. Try again; if it fails again, tell your administrator.",
			sqldb.Millis(w.p.Clips.now()), job.Args.ClipID)
		if ferr != nil {
			err = errors.Join(err, ferr)
		}
		if errors.Is(err, ErrRejected) {
			return river.JobCancel(err)
		}
	}
	return err
}

// RedactQueue queues redaction jobs; Jobs satisfies it.
type RedactQueue interface {
	EnqueueRedact(ctx context.Context, clipID string) error
}

// Redactions is the redaction service the HTTP handler uses.
type Redactions struct {
	p     *Pipeline
	queue RedactQueue
}

// NewRedactions returns the service over the pipeline that runs the jobs
// (for its clips, store and KeepOriginals) and the queue that takes them.
func NewRedactions(p *Pipeline, q RedactQueue) *Redactions { return &Redactions{p: p, queue: q} }

func (r *Redactions) read(ctx context.Context, q sqldb.Q, clipID string) (Redaction, error) {
	red := Redaction{ClipID: clipID, Applied: []AppliedPlan{}, KeepOriginalsMS: r.p.KeepOriginals.Milliseconds()}
	var plan, applied string
	var until, at int64
	err := q.QueryRow(ctx, `SELECT plan_json, applied_json, status, progress, failure, original_until, applied_at FROM clip_redactions WHERE clip_id = ?`, clipID).
		Scan(&plan, &applied, &red.Status, &red.Progress, &red.Failure, &until, &at)
	if errors.Is(err, sql.ErrNoRows) {
		red.Plan = redact.Plan{}.Normalize()
		return red, nil
	}
	if err != nil {
		return red, fmt.Errorf("read redaction of clip %s: %w", clipID, err)
	}
	if err := json.Unmarshal([]byte(plan), &red.Plan); err != nil {
		return red, fmt.Errorf("read redaction plan of clip %s: %w", clipID, err)
	}
	if err := json.Unmarshal([]byte(applied), &red.Applied); err != nil {
		return red, fmt.Errorf("read applied redactions of clip %s: %w", clipID, err)
	}
	red.Plan = red.Plan.Normalize()
	if until > 0 {
		t := sqldb.Time(until)
		red.OriginalUntil = &t
	}
	if at > 0 {
		t := sqldb.Time(at)
		red.AppliedAt = &t
	}
	return red, nil
}

// Get returns a clip's redaction; only its owner may see it (the plan says
// where the people to hide are).
func (r *Redactions) Get(ctx context.Context, a accounts.Actor, clipID string) (Redaction, error) {
	c, err := r.p.Clips.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return Redaction{}, err
	}
	return r.read(ctx, r.p.Clips.db.Reader(), c.ID)
}

// SavePlan replaces the draft plan after validating it against the clip.
func (r *Redactions) SavePlan(ctx context.Context, a accounts.Actor, clipID string, plan redact.Plan) (Redaction, error) {
	c, err := r.p.Clips.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return Redaction{}, err
	}
	if err := playable(c); err != nil {
		return Redaction{}, err
	}
	if err := redact.Validate(plan, c.DurationMS, c.HasVideo, c.HasAudio); err != nil {
		return Redaction{}, err
	}
	raw, _ := json.Marshal(plan.Normalize())
	var red Redaction
	err = r.p.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		cur, err := r.read(ctx, q, c.ID)
		if err != nil {
			return err
		}
		if cur.Status == RedactionQueued || cur.Status == RedactionRunning {
			return apperr.New(apperr.ErrConflict, "redaction_running", "a redaction is being applied to this clip; change the plan when it is done")
		}
		if _, err := q.Exec(ctx, `INSERT INTO clip_redactions (clip_id, plan_json, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (clip_id) DO UPDATE SET plan_json = excluded.plan_json, updated_at = excluded.updated_at`,
			c.ID, string(raw), sqldb.Millis(r.p.Clips.now())); err != nil {
			return fmt.Errorf("save redaction plan of clip %s: %w", c.ID, err)
		}
		red, err = r.read(ctx, q, c.ID)
		return err
	})
	return red, err
}

func playable(c Clip) error {
	if c.Status != StatusReady && c.Status != StatusCaptioning {
		return apperr.New(apperr.ErrConflict, "not_ready", "this clip is still being processed; redact it when it is ready")
	}
	return nil
}

// Apply queues the burning of the saved plan into the clip, and records it
// in the audit log.
func (r *Redactions) Apply(ctx context.Context, a accounts.Actor, clipID string) (Redaction, error) {
	c, err := r.p.Clips.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return Redaction{}, err
	}
	if err := playable(c); err != nil {
		return Redaction{}, err
	}
	if r.queue == nil {
		return Redaction{}, apperr.New(apperr.ErrUnavailable, "no_job_queue", "this server cannot apply redactions right now")
	}
	var red Redaction
	err = r.p.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		cur, err := r.read(ctx, q, c.ID)
		if err != nil {
			return err
		}
		switch {
		case cur.Status == RedactionQueued || cur.Status == RedactionRunning:
			return apperr.New(apperr.ErrConflict, "redaction_running", "a redaction is already being applied to this clip")
		case cur.Plan.Empty():
			return apperr.Invalid("plan", "add a box or a muted range and save the plan before applying it")
		}
		// The plan was valid for the clip when saved; the clip has not
		// changed length since, but check again rather than trust it.
		if err := redact.Validate(cur.Plan, c.DurationMS, c.HasVideo, c.HasAudio); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `UPDATE clip_redactions SET status = ?, progress = 0, failure = '', updated_at = ? WHERE clip_id = ?`,
			RedactionQueued, sqldb.Millis(r.p.Clips.now()), c.ID); err != nil {
			return fmt.Errorf("queue redaction of clip %s: %w", c.ID, err)
		}
		red, err = r.read(ctx, q, c.ID)
		return err
	})
	if err != nil {
		return Redaction{}, err
	}
	if err := r.queue.EnqueueRedact(ctx, c.ID); err != nil {
		_, _ = r.p.Clips.db.Writer().Exec(context.WithoutCancel(ctx), `UPDATE clip_redactions SET status = '' WHERE clip_id = ?`, c.ID)
		return Redaction{}, fmt.Errorf("queue redaction of clip %s: %w", c.ID, err)
	}
	r.p.Clips.record(ctx, a, audit.ClipRedact, c, "", fmt.Sprintf("%d boxes, %d muted ranges", len(red.Plan.Boxes), len(red.Plan.Mutes)))
	return red, nil
}

// redact burns the saved plan of a queued redaction into the clip's master
// and makes every derived file again from it. A retry after a crash reads
// the source as it then is: applying a blur twice only blurs more, and a
// kept original is never overwritten by a redacted master.
func (p *Pipeline) redact(ctx context.Context, clipID string) error {
	r := &Redactions{p: p}
	red, err := r.read(ctx, p.Clips.db.Reader(), clipID)
	if err != nil {
		return err
	}
	if red.Status != RedactionQueued && red.Status != RedactionRunning {
		return nil // done by an earlier attempt, or the clip is gone
	}
	c, err := p.Clips.get(ctx, clipID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := p.Space.Require(p.TempDir, p.transcodeSpace(c.SizeBytes)+c.SizeBytes, "redacting this video"); err != nil {
		return err
	}
	setProgress := func(pct float64) {
		_, _ = p.Clips.db.Writer().Exec(ctx, `UPDATE clip_redactions SET status = ?, progress = ? WHERE clip_id = ?`, RedactionRunning, pct, clipID)
	}
	setProgress(0)
	work, err := os.MkdirTemp(p.TempDir, "filmroom-redact-")
	if err != nil {
		return fmt.Errorf("redact clip %s: %w", clipID, err)
	}
	defer os.RemoveAll(work)
	src, err := p.sourceFile(ctx, clipID, work)
	if err != nil {
		return fmt.Errorf("redact clip %s: %w", clipID, err)
	}
	probe, err := transcode.ProbeFile(ctx, src)
	if err != nil {
		return fmt.Errorf("probe source of clip %s: %w", clipID, err)
	}
	master := filepath.Join(work, "master.mp4")
	opts := p.Options
	opts.Logger = p.Log.With("clip_id", clipID)
	g := redact.Graph(red.Plan, redact.Frame{Width: probe.Width, Height: probe.Height, VideoStream: probe.VideoStream(), AudioStream: probe.AudioStream()})
	// Rendering the master is about the first half of the work.
	var mu sync.Mutex
	last := time.Time{}
	throttled := func(pct float64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) >= time.Second {
			last = time.Now()
			setProgress(pct)
		}
	}
	err = transcode.Render(ctx, src, master, probe, g, opts, func(t time.Duration) {
		if probe.Duration > 0 {
			throttled(min(45, 45*t.Seconds()/probe.Duration.Seconds()))
		}
	})
	if err != nil {
		return fmt.Errorf("render redacted master of clip %s: %w", clipID, err)
	}
	mprobe, err := transcode.ProbeFile(ctx, master)
	if err != nil {
		return fmt.Errorf("probe redacted master of clip %s: %w", clipID, err)
	}
	out := filepath.Join(work, "out")
	res, err := transcode.Transcode(ctx, master, out, mprobe, opts, func(pct float64) { throttled(45 + pct/2) })
	if err != nil {
		return fmt.Errorf("transcode redacted master of clip %s: %w", clipID, err)
	}
	if err := p.stillThere(ctx, clipID); err != nil {
		return err
	}

	// Keep the unredacted original when the site says so, once: a later
	// redaction of the same clip must not replace it with a redacted one.
	var until int64
	if p.KeepOriginals > 0 {
		if _, err := p.Store.Stat(ctx, originalKey(clipID)); errors.Is(err, storage.ErrNotFound) {
			if err := p.putFile(ctx, originalKey(clipID), src); err != nil {
				return fmt.Errorf("keep original of clip %s: %w", clipID, err)
			}
			until = sqldb.Millis(p.Clips.now().Add(p.KeepOriginals))
		} else if err != nil {
			return fmt.Errorf("look for kept original of clip %s: %w", clipID, err)
		}
	}
	if err := p.putFile(ctx, sourceKey(clipID), master); err != nil {
		return fmt.Errorf("store redacted master of clip %s: %w", clipID, err)
	}
	sum, size, err := fileSum(master)
	if err != nil {
		return err
	}
	if err := p.replaceMedia(ctx, clipID, out); err != nil {
		return err
	}
	info := MediaInfo{Master: res.Master, MP4: res.MP4, Poster: res.Poster, Sprite: res.Sprite, Thumbnails: res.SpriteVTT,
		Waveform: res.Waveform, FrameRate: res.FrameRate, Renditions: []RenditionInfo{}}
	for _, r := range res.Renditions {
		info.Renditions = append(info.Renditions, RenditionInfo{Name: r.Name, Width: r.Width, Height: r.Height, Bandwidth: r.Bandwidth, Playlist: r.Playlist})
	}
	applied, _ := json.Marshal(append(red.Applied, AppliedPlan{Plan: red.Plan, At: p.Clips.now().UTC()}))
	now := sqldb.Millis(p.Clips.now())
	err = p.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		// The caption tracks as they are now: the captions step may have
		// changed them while the clip was re-rendered.
		var cur string
		if err := q.QueryRow(ctx, `SELECT media_json FROM clips WHERE id = ?`, clipID).Scan(&cur); err != nil {
			return err
		}
		var old MediaInfo
		_ = json.Unmarshal([]byte(cur), &old)
		info.Captions = old.Captions
		mediaJSON, _ := json.Marshal(info)
		if _, err := q.Exec(ctx, `UPDATE clips SET media_json = ?, duration_ms = ?, width = ?, height = ?, size_bytes = ?, sha256 = ?, updated_at = ? WHERE id = ?`,
			string(mediaJSON), res.Duration.Milliseconds(), res.Width, res.Height, size, sum, now, clipID); err != nil {
			return err
		}
		// original_until keeps the first deadline when one is set.
		_, err := q.Exec(ctx, `UPDATE clip_redactions SET status = '', progress = 100, failure = '', plan_json = ?, applied_json = ?, applied_at = ?,
			original_until = CASE WHEN original_until > 0 THEN original_until ELSE ? END, updated_at = ? WHERE clip_id = ?`,
			`{"boxes":[],"mutes":[]}`, string(applied), now, until, now, clipID)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return p.stillThere(ctx, clipID) // deleted meanwhile: remove what was stored
	}
	if err != nil {
		return fmt.Errorf("record redaction of clip %s: %w", clipID, err)
	}
	if err := p.stillThere(ctx, clipID); err != nil {
		return err
	}
	p.Log.Info("Redaction applied.", "clip_id", clipID, "boxes", len(red.Plan.Boxes), "mutes", len(red.Plan.Mutes), "original_kept", until > 0)
	if len(red.Plan.Mutes) > 0 && res.HasAudio && p.Queue != nil {
		if err := p.Queue.EnqueueCaptionsAgain(ctx, clipID); err != nil {
			p.Log.Warn("Could not queue captions again after muting.", "clip_id", clipID, "error", err)
		}
	}
	return nil
}

// replaceMedia uploads the files in dir as the clip's media and then
// deletes every media object the new set does not have, except captions:
// players keep working while it runs, and no unredacted file stays.
func (p *Pipeline) replaceMedia(ctx context.Context, clipID, dir string) error {
	before, err := p.Store.List(ctx, mediaKey(clipID, ""))
	if err != nil {
		return fmt.Errorf("list media of clip %s: %w", clipID, err)
	}
	keep := map[string]bool{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		key := mediaKey(clipID, filepath.ToSlash(rel))
		keep[key] = true
		return p.putFile(ctx, key, path)
	})
	if err != nil {
		return fmt.Errorf("store redacted media of clip %s: %w", clipID, err)
	}
	captions := mediaKey(clipID, "captions/")
	for _, o := range before {
		if keep[o.Key] || strings.HasPrefix(o.Key, captions) {
			continue
		}
		if err := p.Store.Delete(ctx, o.Key); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("delete unredacted %s: %w", o.Key, err)
		}
	}
	return nil
}

func fileSum(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// PurgeOriginals deletes the kept unredacted originals whose time is up
// (the server's housekeeping calls it hourly) and returns how many.
func (p *Pipeline) PurgeOriginals(ctx context.Context) (int, error) {
	rows, err := p.Clips.db.Reader().Query(ctx, `SELECT clip_id FROM clip_redactions WHERE original_until > 0 AND original_until <= ?`, sqldb.Millis(p.Clips.now()))
	if err != nil {
		return 0, fmt.Errorf("find kept originals: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, id := range ids {
		if err := p.Store.Delete(ctx, originalKey(id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			errs = append(errs, fmt.Errorf("purge kept original of clip %s: %w", id, err))
			continue
		}
		if _, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clip_redactions SET original_until = 0 WHERE clip_id = ?`, id); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
		p.Log.Info("Kept unredacted original purged.", "clip_id", id)
	}
	return n, errors.Join(errs...)
}

// UseRedactions serves the redaction routes from r.
func (h *Handler) UseRedactions(r *Redactions) { h.redactions = r }

// redactionRoutes registers the redaction routes (mounted at /api/v1);
// every one is the owner's alone (accounts.ClipEdit).
func (h *Handler) redactionRoutes(g *echo.Group) {
	g.GET("/clips/:id/redaction", h.getRedaction)
	g.PUT("/clips/:id/redaction", h.putRedaction)
	g.POST("/clips/:id/redaction/apply", h.applyRedaction)
	g.GET("/clips/:id/redaction/original", h.downloadOriginal)
}

func (h *Handler) redactionService() (*Redactions, error) {
	if h.redactions == nil {
		return nil, apperr.New(apperr.ErrUnavailable, "no_redaction", "this server cannot redact clips")
	}
	return h.redactions, nil
}

func (h *Handler) getRedaction(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	r, err := h.redactionService()
	if err != nil {
		return err
	}
	red, err := r.Get(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"redaction": red})
}

func (h *Handler) putRedaction(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	r, err := h.redactionService()
	if err != nil {
		return err
	}
	var plan redact.Plan
	if err := httpx.Bind(c, &plan, MaxRedactionBody); err != nil {
		return err
	}
	red, err := r.SavePlan(c.Request().Context(), a, c.Param("id"), plan)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"redaction": red})
}

func (h *Handler) applyRedaction(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	r, err := h.redactionService()
	if err != nil {
		return err
	}
	red, err := r.Apply(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"redaction": red})
}

// downloadOriginal serves the kept unredacted original to the clip's owner
// while the site keeps it.
func (h *Handler) downloadOriginal(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	r, err := h.redactionService()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	red, err := r.Get(ctx, a, c.Param("id"))
	if err != nil {
		return err
	}
	if red.OriginalUntil == nil || !red.OriginalUntil.After(r.p.Clips.now()) {
		return apperr.NotFound("kept original")
	}
	clip, err := r.p.Clips.get(ctx, red.ClipID)
	if err != nil {
		return err
	}
	obj, err := h.store.Open(ctx, originalKey(clip.ID))
	if err != nil {
		return notFoundMedia(err)
	}
	defer obj.Close()
	name := strings.Map(func(r rune) rune {
		if r == '"' || r == '/' || r == '\\' || r < 32 {
			return '_'
		}
		return r
	}, clip.Title) + " (unredacted original)"
	if ext := lastExt(clip.Filename); ext != "" {
		name += "." + ext
	}
	res := c.Response()
	res.Header().Set("Content-Type", "application/octet-stream")
	res.Header().Set("Cache-Control", "private, no-store")
	res.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, name))
	http.ServeContent(res, c.Request(), "", obj.Info().ModTime, obj)
	h.clips.record(ctx, a, audit.ClipDownload, clip, "", "unredacted original")
	return nil
}
