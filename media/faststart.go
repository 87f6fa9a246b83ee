package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media/transcode"
)

// Fast start: a clip becomes playable from one quick rendition — its own
// H.264/AAC streams packaged as they are, or else a small preview encode —
// and its full ladder is encoded afterwards by a job on the background
// queue. The master playlist is replaced when the ladder is done; the web
// app reloads it at the position it was playing.

// Ladder states (clips.ladder_state).
const (
	LadderPending = "pending" // queued or being encoded
	LadderFailed  = "failed"  // gave up: the clip plays from its quick rendition
)

// Ladder is a clip's full set of qualities while it is still being made.
type Ladder struct {
	State    string  `json:"state"`
	Progress float64 `json:"progress"`
	// Start is how the clip became playable first: "copy" (its own
	// streams) or "preview" (a small fast encode).
	Start string `json:"start"`
}

// Queues. Jobs that make a clip playable go ahead of everything else.
const (
	QueuePlayable   = river.QueueDefault
	QueueBackground = "background"
)

// LadderArgs is the job that encodes a playable clip's full ladder.
type LadderArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	Retry  string `json:"retry,omitempty" river:"unique"`
}

// Kind names the job type in River.
func (LadderArgs) Kind() string { return "media.ladder" }

// ladderWorker runs ladder jobs with the processing job's lease and retry
// handling: the pipeline picks the step from the clip's state.
type ladderWorker struct {
	river.WorkerDefaults[LadderArgs]
	pw *processWorker
}

func (w *ladderWorker) Timeout(*river.Job[LadderArgs]) time.Duration { return w.pw.timeout }

func (w *ladderWorker) Work(ctx context.Context, job *river.Job[LadderArgs]) error {
	return w.pw.work(ctx, job.Args.ClipID, jobInfo{ID: job.ID, Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, CreatedAt: job.CreatedAt})
}

// placement is where a job goes: its queue and River priority (1 first).
type placement struct {
	queue    string
	priority int
}

// fairPriority keeps one owner's many uploads from holding up everyone
// else's: a job goes behind the owner's other unfinished clips (priority
// 1 for the first, down to River's lowest, 4).
func (j *Jobs) fairPriority(ctx context.Context, clipID, busy string) int {
	if j.p == nil {
		return 1
	}
	var n int
	err := j.p.Clips.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM clips o JOIN clips c ON c.owner_id = o.owner_id
		WHERE o.id = ? AND c.id <> o.id AND `+busy, clipID).Scan(&n)
	if err != nil {
		return 1 // best effort: an unfair order is better than no job
	}
	return min(1+n, 4)
}

func (j *Jobs) playable(ctx context.Context, clipID string) placement {
	return placement{queue: QueuePlayable, priority: j.fairPriority(ctx, clipID, `c.status IN ('probing', 'transcoding')`)}
}

func (j *Jobs) background(ctx context.Context, clipID string) placement {
	return placement{queue: QueueBackground, priority: j.fairPriority(ctx, clipID, `c.ladder_state = 'pending'`)}
}

// EnqueueLadder queues the full ladder of a clip that plays already.
func (j *Jobs) EnqueueLadder(ctx context.Context, clipID string) error {
	// Behind waiting captions of the same rank: a person reads captions
	// sooner than they miss a sharper picture.
	at := j.background(ctx, clipID)
	at.priority = min(at.priority+1, 4)
	_, err := j.insert(ctx, LadderArgs{ClipID: clipID}, at)
	return err
}

// retryJob is the job that retries a clip whose worker stopped: its ladder
// on the background queue when it plays already, else its processing.
func (j *Jobs) retryJob(ctx context.Context, clipID string) (river.JobArgs, placement) {
	var state string
	_ = j.p.Clips.db.Reader().QueryRow(ctx, `SELECT ladder_state FROM clips WHERE id = ?`, clipID).Scan(&state)
	if state == LadderPending {
		return LadderArgs{ClipID: clipID, Retry: id.New()}, j.background(ctx, clipID)
	}
	return ProcessArgs{ClipID: clipID, Retry: id.New()}, j.playable(ctx, clipID)
}

// startFast makes the clip playable from one quick rendition and queues its
// ladder. It reports false when the clip goes straight to the full ladder
// (audio only).
func (p *Pipeline) startFast(ctx context.Context, clipID, token, work, src string, probe *transcode.Probe) (bool, error) {
	plan := transcode.PlanStart(probe)
	log := p.Log.With("clip_id", clipID)
	if plan.Path == transcode.StartLadder {
		return false, nil
	}
	out := filepath.Join(work, "fast")
	var res *transcode.Result
	published := false
	if plan.Path == transcode.StartCopy {
		opts := p.Options
		opts.Logger = log
		pub := &progressive{ctx: ctx, p: p, clipID: clipID, token: token, out: out, start: transcode.StartCopy}
		var err error
		res, err = transcode.PackageSource(ctx, src, out, probe, opts, pub.progress)
		published = pub.ready
		var nc *transcode.NotCopyable
		switch {
		case err != nil && published:
			// Playable already: the ladder that follows replaces the
			// rendition, and players get its end now.
			if ferr := pub.finish(ctx, err); ferr != nil {
				return true, ferr
			}
			log.Warn("Packaging stopped after the clip became playable; its ladder replaces it.", "error", err)
		case errors.As(err, &nc):
			plan = transcode.StartPlan{Path: transcode.StartPreview, Reason: nc.Reason}
		case err != nil && ctx.Err() != nil:
			return true, fmt.Errorf("package clip %s: %w", clipID, err)
		case err != nil:
			// The copy is an optimisation: a source it trips on still gets
			// its preview.
			log.Warn("Could not package the source as it is; encoding a preview.", "error", err)
			plan = transcode.StartPlan{Path: transcode.StartPreview, Reason: "packaging failed"}
		}
	}
	if plan.Path == transcode.StartPreview {
		log.Info("Encoding a preview first.", "reason", plan.Reason)
		if err := p.setStatus(ctx, clipID, StatusTranscoding, 0); err != nil {
			return true, err
		}
		opts := p.Options
		opts.Logger = log
		pub := &progressive{ctx: ctx, p: p, clipID: clipID, token: token, out: out, start: transcode.StartPreview}
		var err error
		res, err = transcode.EncodePreview(ctx, src, out, probe, opts, pub.progress)
		published = pub.ready
		if err != nil && published {
			if ferr := pub.finish(ctx, err); ferr != nil {
				return true, ferr
			}
			log.Warn("The preview stopped after the clip became playable; its ladder replaces it.", "error", err)
		} else if err != nil {
			return true, p.encodeFailed(ctx, clipID, err)
		}
	}
	if !published {
		if err := p.publish(ctx, clipID, token, out, res, string(plan.Path)); err != nil {
			return true, err
		}
	}
	log.Info("Clip playable; its ladder follows.", "start", plan.Path, "reason", plan.Reason)
	if lq, ok := p.Queue.(interface {
		EnqueueLadder(context.Context, string) error
	}); ok {
		if err := lq.EnqueueLadder(ctx, clipID); err != nil {
			// The clip plays; the sweeper of stale ladders queues it again.
			log.Warn("Could not queue the ladder.", "error", err)
		}
	}
	return true, nil
}

// encode runs a transcode with throttled progress updates (progressSQL
// takes the percentage and the clip ID) and turns a rejection into a
// failed clip wrapped in ErrRejected.
func (p *Pipeline) encode(ctx context.Context, clipID, src, out string, probe *transcode.Probe, opts transcode.Options, progressSQL string) (*transcode.Result, error) {
	var mu sync.Mutex
	last := time.Time{}
	opts.Logger = p.Log.With("clip_id", clipID)
	res, err := transcode.Transcode(ctx, src, out, probe, opts, func(pct float64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < time.Second && pct < 100 {
			return
		}
		last = time.Now()
		// Progress is best effort: a failed update must not fail the job.
		_, _ = p.Clips.db.Writer().Exec(ctx, progressSQL, pct, clipID)
	})
	if err != nil {
		return nil, p.encodeFailed(ctx, clipID, err)
	}
	return res, nil
}

// encodeFailed turns a rejection into a failed clip wrapped in
// ErrRejected, and wraps other errors.
func (p *Pipeline) encodeFailed(ctx context.Context, clipID string, err error) error {
	if rej, ok := transcode.AsRejection(err); ok {
		if ferr := p.Fail(ctx, clipID, rej.Code, rej.Reason); ferr != nil {
			return ferr
		}
		return fmt.Errorf("process clip %s: %w: %w", clipID, ErrRejected, err)
	}
	return fmt.Errorf("transcode clip %s: %w", clipID, err)
}

// storeDir uploads every file under dir as the clip's media, master.m3u8
// last, so that a player never finds a master naming what is not there.
func (p *Pipeline) storeDir(ctx context.Context, clipID, dir string) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store media of clip %s: %w", clipID, err)
	}
	master := filepath.Join(dir, "master.m3u8")
	for i, f := range files {
		if f == master {
			files[i], files[len(files)-1] = files[len(files)-1], files[i]
			break
		}
	}
	for _, path := range files {
		rel, _ := filepath.Rel(dir, path)
		if err := p.putFile(ctx, mediaKey(clipID, filepath.ToSlash(rel)), path); err != nil {
			return fmt.Errorf("store media of clip %s: %w", clipID, err)
		}
	}
	return nil
}

// putFile stores a file the job wrote (linked on the local store: the
// job's folder is on the same disk and goes when the job ends).
func (p *Pipeline) putFile(ctx context.Context, key, path string) error {
	return p.Store.PutFile(ctx, key, path, "")
}

// mediaInfo is the media JSON of a transcode result.
func mediaInfo(res *transcode.Result) MediaInfo {
	info := MediaInfo{Master: res.Master, MP4: res.MP4, Poster: res.Poster, Sprite: res.Sprite, Thumbnails: res.SpriteVTT,
		Waveform: res.Waveform, FrameRate: res.FrameRate, Renditions: []RenditionInfo{}}
	for _, r := range res.Renditions {
		info.Renditions = append(info.Renditions, RenditionInfo{Name: r.Name, Width: r.Width, Height: r.Height, Bandwidth: r.Bandwidth, Playlist: r.Playlist})
	}
	return info
}

// buildLadder encodes the full ladder of a clip that plays from its quick
// rendition, stores it beside that rendition, switches the master
// playlist and the media JSON to it in one step (keeping the caption
// tracks the captions job may have added meanwhile), and then removes
// the quick rendition.
func (p *Pipeline) buildLadder(ctx context.Context, c Clip, token string) error {
	clipID := c.ID
	work, err := os.MkdirTemp(p.TempDir, "filmroom-ladder-")
	if err != nil {
		return fmt.Errorf("ladder of clip %s: %w", clipID, err)
	}
	defer os.RemoveAll(work)
	src, err := p.sourceFile(ctx, clipID, work)
	if err != nil {
		return fmt.Errorf("ladder of clip %s: %w", clipID, err)
	}
	probe, err := transcode.ProbeFile(ctx, src)
	if err != nil {
		return fmt.Errorf("ladder of clip %s: %w", clipID, err)
	}
	out := filepath.Join(work, "out")
	// A long video is encoded in chunks by any worker (ladder_chunks.go).
	res, chunked, err := p.chunkedLadder(ctx, c, work, src, probe, out)
	if errors.Is(err, ErrClipDeleted) {
		return nil
	}
	if err != nil {
		return err
	}
	if !chunked {
		res, err = p.encode(ctx, clipID, src, out, probe, p.Options, `UPDATE clips SET ladder_progress = ? WHERE id = ?`)
		if err != nil {
			return err
		}
	}
	if err := p.holds(ctx, clipID, token); err != nil {
		return err
	}
	var old MediaInfo
	_ = json.Unmarshal(c.Media, &old)
	if err := p.storeDir(ctx, clipID, out); err != nil {
		return err
	}
	info := mediaInfo(res)
	switched := int64(0)
	err = p.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		// Lock the row first: the captions job edits the same JSON.
		lock, err := q.Exec(ctx, `UPDATE clips SET ladder_progress = 100 WHERE id = ?`, clipID)
		if err != nil {
			return err
		}
		if n, err := lock.RowsAffected(); err != nil || n == 0 {
			return err // deleted meanwhile
		}
		var raw string
		if err := q.QueryRow(ctx, `SELECT media_json FROM clips WHERE id = ?`, clipID).Scan(&raw); err != nil {
			return err
		}
		merged := map[string]json.RawMessage{}
		_ = json.Unmarshal([]byte(raw), &merged)
		fresh := map[string]json.RawMessage{}
		b, _ := json.Marshal(info)
		_ = json.Unmarshal(b, &fresh)
		for _, k := range []string{"master", "renditions", "mp4", "poster", "sprite", "thumbnails", "waveform", "frame_rate"} {
			if v, ok := fresh[k]; ok {
				merged[k] = v
			} else {
				delete(merged, k)
			}
		}
		b, _ = json.Marshal(merged)
		res, err := q.Exec(ctx, `UPDATE clips SET media_json = ?, ladder_state = '', ladder_progress = 100, notice = '', width = ?, height = ?, updated_at = ?
			WHERE id = ? AND (? = '' OR lease_owner = ?)`, string(b), res.Width, res.Height, sqldb.Millis(p.Clips.now()), clipID, token, token)
		if err != nil {
			return err
		}
		switched, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("switch clip %s to its ladder: %w", clipID, err)
	}
	if switched == 0 {
		if err := p.stillThere(ctx, clipID); err != nil {
			if errors.Is(err, ErrClipDeleted) {
				return nil
			}
			return err
		}
		return fmt.Errorf("switch clip %s to its ladder: %w", clipID, errLeaseLost)
	}
	if chunked {
		p.dropLadderParts(ctx, clipID)
	}
	// Players still on the quick rendition switch at their next master
	// reload; the web app does it when the clip's ladder completes.
	for _, r := range old.Renditions {
		if !strings.Contains(r.Playlist, "/") || hasRendition(info, r.Name) {
			continue
		}
		prefix := mediaKey(clipID, strings.SplitN(r.Playlist, "/", 2)[0]+"/")
		if err := p.Store.DeletePrefix(ctx, prefix); err != nil {
			p.Log.Warn("Could not remove the quick rendition after the ladder; it stays until the clip is deleted.", "clip_id", clipID, "error", err)
		}
	}
	p.Log.Info("Clip ladder ready.", "clip_id", clipID, "renditions", len(res.Renditions))
	return nil
}

func hasRendition(info MediaInfo, name string) bool {
	for _, r := range info.Renditions {
		if r.Name == name {
			return true
		}
	}
	return false
}
