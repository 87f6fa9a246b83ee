package media

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media/captions"
)

// Captions in parallel: the captions job (the coordinator) extracts the
// clip's audio, cuts it at pauses into chunks (captions.SplitAudio), stores
// them and records one caption_chunks row each under a new run; one
// media.captions_chunk job per chunk then recognizes it on whichever worker
// takes it. Every finished chunk saves the machine track from all chunks
// finished so far, so cues appear while later chunks are still pending, and
// the last one marks the captions ready. A chunk that fails is retried
// alone; the others' words are kept in their rows.

// DefaultCaptionChunk is the chunk length aimed at: long enough that the
// speech engine has a sentence or two of context, short enough that the
// first cues come soon and a 10-minute lesson spreads over every worker.
const DefaultCaptionChunk = 30 * time.Second

// CaptionChunkArgs is the job that captions one chunk of a clip's audio.
type CaptionChunkArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	Run    string `json:"run" river:"unique"`
	Index  int    `json:"index" river:"unique"`
}

// Kind names the job type in River.
func (CaptionChunkArgs) Kind() string { return "media.captions_chunk" }

// ChunkCaptioner captions one chunk of a run; CaptionJob satisfies it.
type ChunkCaptioner interface {
	CaptionChunk(ctx context.Context, clipID, run string, index, attempt, maxAttempts int) error
}

var _ ChunkCaptioner = (*CaptionJob)(nil)

type captionChunkWorker struct {
	river.WorkerDefaults[CaptionChunkArgs]
	cap     ChunkCaptioner
	timeout time.Duration
}

func (w *captionChunkWorker) Timeout(*river.Job[CaptionChunkArgs]) time.Duration { return w.timeout }

func (w *captionChunkWorker) Work(ctx context.Context, job *river.Job[CaptionChunkArgs]) error {
	if w.cap == nil {
		return nil
	}
	return w.cap.CaptionChunk(ctx, job.Args.ClipID, job.Args.Run, job.Args.Index, job.Attempt, job.MaxAttempts)
}

// EnqueueCaptionChunk queues one chunk of a captions run (once: a chunk
// already queued, waiting to retry or running is not queued again).
func (j *Jobs) EnqueueCaptionChunk(ctx context.Context, clipID, run string, index int) error {
	_, err := j.insert(ctx, CaptionChunkArgs{ClipID: clipID, Run: run, Index: index}, j.background(ctx, clipID))
	return err
}

// chunkEnqueuer is what a queue needs to spread chunks over workers; without
// it (tests, a queue that predates chunks) the coordinator captions the
// chunks itself, one after another.
type chunkEnqueuer interface {
	EnqueueCaptionChunk(ctx context.Context, clipID, run string, index int) error
}

// chunkKey is where a run's chunk audio is kept until the chunk is done:
// under the clip (deleted with it) but outside media/, which players read.
func chunkKey(clipID, run string, index int) string {
	return fmt.Sprintf("%scaptions-work/%s/%05d.wav", clipPrefix(clipID), run, index)
}

func chunkPrefix(clipID, run string) string {
	return clipPrefix(clipID) + "captions-work/" + run + "/"
}

func (j *CaptionJob) chunkTarget() time.Duration {
	if j.ChunkTarget > 0 {
		return j.ChunkTarget
	}
	return DefaultCaptionChunk
}

// resumableRun is the clip's unfinished run, "" when there is none: a
// coordinator that runs again (a retry, or the job queued when the clip
// became ready after captions had started from the source) carries on with
// it instead of starting over.
func (j *CaptionJob) resumableRun(ctx context.Context, clipID string) (string, error) {
	var run, status string
	err := j.Pipeline.Clips.db.Reader().QueryRow(ctx, `SELECT caption_run, caption_status FROM clips WHERE id = ?`, clipID).Scan(&run, &status)
	if err != nil {
		return "", fmt.Errorf("read caption run of clip %s: %w", clipID, err)
	}
	if run == "" || (status != CaptionPending && status != CaptionRunning) {
		return "", nil
	}
	var n int
	if err := j.Pipeline.Clips.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM caption_chunks WHERE clip_id = ? AND run = ?`, clipID, run).Scan(&n); err != nil {
		return "", fmt.Errorf("read caption chunks of clip %s: %w", clipID, err)
	}
	if n == 0 {
		return "", nil
	}
	return run, nil
}

// startRun extracts the clip's audio from its source, cuts it into chunks,
// stores them and records the run, replacing any earlier one.
func (j *CaptionJob) startRun(ctx context.Context, clipID, lang string) (string, int, error) {
	work, err := os.MkdirTemp(j.Pipeline.TempDir, "filmroom-captions-")
	if err != nil {
		return "", 0, fmt.Errorf("caption clip %s: %w", clipID, err)
	}
	defer os.RemoveAll(work)
	// The stored source is read in place where the store is local (never
	// written or removed through this path), else copied into work.
	src, err := j.Pipeline.sourceFile(ctx, clipID, work)
	if err != nil {
		return "", 0, fmt.Errorf("caption clip %s: %w", clipID, err)
	}
	wav := filepath.Join(work, "audio.wav")
	if err := captions.ExtractAudio(ctx, src, wav); err != nil {
		return "", 0, fmt.Errorf("caption clip %s: %w", clipID, err)
	}
	chunks, err := captions.SplitAudio(ctx, wav, work, captions.SplitOptions{Target: j.chunkTarget()})
	if err != nil {
		return "", 0, fmt.Errorf("caption clip %s: %w", clipID, err)
	}
	run := id.New()
	for _, c := range chunks {
		if err := j.Pipeline.putFile(ctx, chunkKey(clipID, run, c.Index), c.Path); err != nil {
			return "", 0, fmt.Errorf("store audio chunk %d of clip %s: %w", c.Index, clipID, err)
		}
	}
	var old string
	now := sqldb.Millis(j.Pipeline.Clips.now())
	err = j.Pipeline.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		if err := q.QueryRow(ctx, `SELECT caption_run FROM clips WHERE id = ?`, clipID).Scan(&old); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM caption_chunks WHERE clip_id = ?`, clipID); err != nil {
			return err
		}
		for _, c := range chunks {
			if _, err := q.Exec(ctx, `INSERT INTO caption_chunks (clip_id, run, idx, lang, offset_ms, dur_ms, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				clipID, run, c.Index, lang, c.OffsetMS, c.DurMS, now); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `UPDATE clips SET caption_run = ?, caption_status = ?, caption_progress = 0, caption_reason = '', updated_at = ? WHERE id = ?`,
			run, CaptionRunning, now, clipID)
		return err
	})
	if err != nil {
		_ = j.Pipeline.Store.DeletePrefix(context.WithoutCancel(ctx), chunkPrefix(clipID, run))
		if errors.Is(err, sql.ErrNoRows) {
			return "", 0, fmt.Errorf("caption clip %s: %w", clipID, ErrClipDeleted)
		}
		return "", 0, fmt.Errorf("record caption chunks of clip %s: %w", clipID, err)
	}
	if old != "" && old != run {
		// Chunk audio of a run that was abandoned.
		_ = j.Pipeline.Store.DeletePrefix(ctx, chunkPrefix(clipID, old))
	}
	j.Captions.changed(ctx, clipID)
	return run, len(chunks), nil
}

// dispatch queues the run's unfinished chunks, or captions them here when
// the queue cannot take chunk jobs. With nothing left it completes the run
// (a coordinator whose last assembly was cut off).
func (j *CaptionJob) dispatch(ctx context.Context, clipID, run string, attempt, maxAttempts int) error {
	rows, err := j.Pipeline.Clips.db.Reader().Query(ctx, `SELECT idx FROM caption_chunks WHERE clip_id = ? AND run = ? AND state <> 'done' ORDER BY idx`, clipID, run)
	if err != nil {
		return fmt.Errorf("list caption chunks of clip %s: %w", clipID, err)
	}
	var todo []int
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			rows.Close()
			return fmt.Errorf("list caption chunks of clip %s: %w", clipID, err)
		}
		todo = append(todo, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list caption chunks of clip %s: %w", clipID, err)
	}
	if len(todo) == 0 {
		_, err := j.assemble(ctx, clipID, run, -1, nil)
		return err
	}
	if q, ok := j.Pipeline.Queue.(chunkEnqueuer); ok {
		for _, i := range todo {
			if err := q.EnqueueCaptionChunk(ctx, clipID, run, i); err != nil {
				// The coordinator is retried and queues what is missing.
				return j.failed(ctx, clipID, attempt, maxAttempts, fmt.Errorf("queue caption chunk %d of clip %s: %w", i, clipID, err))
			}
		}
		return nil
	}
	for _, i := range todo {
		if _, err := j.captionChunk(ctx, clipID, run, i); err != nil {
			if outcome, ok := j.engineOutcome(ctx, clipID, err); ok {
				return outcome
			}
			j.recordChunkError(ctx, clipID, run, i, err)
			return j.failed(ctx, clipID, attempt, maxAttempts, err)
		}
	}
	return nil
}

// CaptionChunk captions one chunk of a run (the media.captions_chunk job).
// A chunk of a run that was replaced, or that is done already, is left
// alone. Errors are retried by the queue; the last attempt marks the
// captions failed, keeping the parts that were finished.
func (j *CaptionJob) CaptionChunk(ctx context.Context, clipID, run string, index, attempt, maxAttempts int) error {
	log := j.Pipeline.Log.With("clip_id", clipID, "run", run, "chunk", index, "attempt", attempt)
	total, err := j.captionChunk(ctx, clipID, run, index)
	if err == nil {
		return nil
	}
	if outcome, ok := j.engineOutcome(ctx, clipID, err); ok {
		return outcome
	}
	log.Warn("Captioning a part of a clip failed.", "max_attempts", maxAttempts, "error", err)
	j.recordChunkError(ctx, clipID, run, index, err)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if total == 0 {
		_ = j.Pipeline.Clips.db.Reader().QueryRow(sctx, `SELECT COUNT(*) FROM caption_chunks WHERE clip_id = ? AND run = ?`, clipID, run).Scan(&total)
	}
	if attempt < maxAttempts {
		reason := fmt.Sprintf("Part %d of %d failed on try %d of %d; it will be tried again.", index+1, total, attempt, maxAttempts)
		_, _ = j.Pipeline.Clips.db.Writer().Exec(sctx, `UPDATE clips SET caption_reason = ? WHERE id = ? AND caption_run = ?`, reason, clipID, run)
		j.Captions.changed(sctx, clipID)
		return err
	}
	// The parts that were finished stay; failed tells the rest.
	return j.failed(ctx, clipID, attempt, maxAttempts, fmt.Errorf("part %d of %d: %w", index+1, total, err))
}

// engineOutcome turns errors no retry can change into caption_status none,
// as the one-pass job did.
func (j *CaptionJob) engineOutcome(ctx context.Context, clipID string, err error) (error, bool) {
	reason := ""
	switch {
	case errors.Is(err, captions.ErrEngineNotFound):
		reason = "The speech engine is not installed on this server (" + err.Error() + "). You can upload a caption file (WebVTT or SRT)."
	case errors.Is(err, captions.ErrUnsupportedLanguage):
		reason = "The speech engine cannot transcribe " + languageLabel(j.lang()) + ". You can upload a caption file (WebVTT or SRT)."
	default:
		return nil, false
	}
	j.Pipeline.Log.Info("Clip not captioned automatically.", "clip_id", clipID, "reason", reason)
	return j.Captions.setJobState(ctx, clipID, CaptionNone, 0, reason), true
}

// recordChunkError notes a failed try on the chunk's row (best effort).
func (j *CaptionJob) recordChunkError(ctx context.Context, clipID, run string, index int, err error) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = j.Pipeline.Clips.db.Writer().Exec(sctx, `UPDATE caption_chunks SET state = 'failed', error = ?, updated_at = ?
		WHERE clip_id = ? AND run = ? AND idx = ? AND state <> 'done'`,
		shortError(err), sqldb.Millis(j.Pipeline.Clips.now()), clipID, run, index)
}

// captionChunk recognizes one chunk and saves it with the others finished
// so far. It returns how many chunks the run has.
func (j *CaptionJob) captionChunk(ctx context.Context, clipID, run string, index int) (int, error) {
	var c captions.Chunk
	var lang, state string
	err := j.Pipeline.Clips.db.Reader().QueryRow(ctx, `SELECT k.lang, k.offset_ms, k.dur_ms, k.state FROM caption_chunks k
		JOIN clips c ON c.id = k.clip_id AND c.caption_run = k.run WHERE k.clip_id = ? AND k.run = ? AND k.idx = ?`,
		clipID, run, index).Scan(&lang, &c.OffsetMS, &c.DurMS, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // a run that was replaced, a clip deleted, or a run complete
	}
	if err != nil {
		return 0, fmt.Errorf("read caption chunk %d of clip %s: %w", index, clipID, err)
	}
	c.Index = index
	if state == "done" {
		return j.assemble(ctx, clipID, run, -1, nil)
	}
	if _, err := j.Pipeline.Clips.db.Writer().Exec(ctx, `UPDATE caption_chunks SET state = 'running', attempts = attempts + 1, updated_at = ?
		WHERE clip_id = ? AND run = ? AND idx = ? AND state <> 'done'`, sqldb.Millis(j.Pipeline.Clips.now()), clipID, run, index); err != nil {
		return 0, fmt.Errorf("claim caption chunk %d of clip %s: %w", index, clipID, err)
	}
	work, err := os.MkdirTemp(j.Pipeline.TempDir, "filmroom-caption-chunk-")
	if err != nil {
		return 0, fmt.Errorf("caption chunk %d of clip %s: %w", index, clipID, err)
	}
	defer os.RemoveAll(work)
	c.Path = filepath.Join(work, "chunk.wav")
	if err := j.Pipeline.fetch(ctx, chunkKey(clipID, run, index), c.Path); err != nil {
		return 0, fmt.Errorf("caption chunk %d of clip %s: %w", index, clipID, err)
	}
	words, err := j.Engine.Transcribe(ctx, c.Path, lang, nil)
	if err != nil {
		return 0, fmt.Errorf("caption chunk %d of clip %s: %w", index, clipID, err)
	}
	return j.assemble(ctx, clipID, run, index, c.Place(words))
}

// assemble records chunk index's words (index < 0: none, just assemble)
// and, in the same transaction, saves the machine track made from every
// chunk finished so far: the clip's row is locked first, so concurrent
// chunks assemble one after another and the last one sees them all. The
// run's rows and audio go when it is complete. It returns the number of
// chunks in the run.
func (j *CaptionJob) assemble(ctx context.Context, clipID, run string, index int, words []captions.Word) (int, error) {
	lang := j.lang()
	now := sqldb.Millis(j.Pipeline.Clips.now())
	total, done := 0, 0
	status := ""
	err := j.Pipeline.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		lock, err := q.Exec(ctx, `UPDATE clips SET updated_at = ? WHERE id = ? AND caption_run = ?`, now, clipID, run)
		if err != nil {
			return err
		}
		if n, err := lock.RowsAffected(); err != nil || n == 0 {
			return err // the run was replaced or the clip deleted: nothing to save
		}
		var was string
		if err := q.QueryRow(ctx, `SELECT caption_status FROM clips WHERE id = ?`, clipID).Scan(&was); err != nil {
			return err
		}
		if index >= 0 {
			wj, _ := json.Marshal(words)
			if _, err := q.Exec(ctx, `UPDATE caption_chunks SET state = 'done', words_json = ?, error = '', updated_at = ? WHERE clip_id = ? AND run = ? AND idx = ?`,
				string(wj), now, clipID, run, index); err != nil {
				return err
			}
		}
		rows, err := q.Query(ctx, `SELECT idx, lang, offset_ms, dur_ms, state, words_json FROM caption_chunks WHERE clip_id = ? AND run = ? ORDER BY idx`, clipID, run)
		if err != nil {
			return err
		}
		var chunks []captions.Chunk
		var parts [][]captions.Word
		for rows.Next() {
			var c captions.Chunk
			var state, wj string
			if err := rows.Scan(&c.Index, &lang, &c.OffsetMS, &c.DurMS, &state, &wj); err != nil {
				rows.Close()
				return err
			}
			var ws []captions.Word
			if state == "done" {
				done++
				if err := json.Unmarshal([]byte(wj), &ws); err != nil {
					rows.Close()
					return fmt.Errorf("chunk %d words: %w", c.Index, err)
				}
			}
			chunks, parts = append(chunks, c), append(parts, ws)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		total = len(chunks)
		if total == 0 {
			return nil
		}
		merged, err := captions.MergeChunks(chunks, parts)
		if err != nil {
			return err
		}
		if len(merged) > 0 {
			if _, err := j.Captions.saveTx(ctx, q, newVersion{clipID: clipID, lang: lang, version: CaptionMachine,
				cues: captions.BuildCues(merged), words: merged, engine: j.Engine.Name()}); err != nil {
				return err
			}
		}
		progress, reason := 100*float64(done)/float64(total), ""
		status = CaptionRunning
		if was == CaptionFailed {
			// A part gave up: the parts still finishing add their cues, and
			// the clip keeps saying why the rest is missing.
			status = CaptionFailed
			return nil
		}
		if done == total {
			status, progress = CaptionReady, 100
			if len(merged) == 0 {
				status, progress = CaptionNone, 0
				reason = "No speech was recognized in this clip. If people speak in it, you can upload a caption file (WebVTT or SRT)."
			}
			if _, err := q.Exec(ctx, `DELETE FROM caption_chunks WHERE clip_id = ? AND run = ?`, clipID, run); err != nil {
				return err
			}
		}
		_, err = q.Exec(ctx, `UPDATE clips SET caption_status = ?, caption_progress = ?, caption_reason = ? WHERE id = ?`,
			status, progress, reason, clipID)
		return err
	})
	if err != nil {
		return total, fmt.Errorf("save captions of clip %s from %d of %d parts: %w", clipID, done, total, err)
	}
	if status == "" {
		return total, nil
	}
	j.Captions.changed(ctx, clipID)
	if index >= 0 {
		// Its audio is not needed again (best effort: the run's folder goes
		// when the run is complete, or with the clip).
		_ = j.Pipeline.Store.Delete(ctx, chunkKey(clipID, run, index))
	}
	if status != CaptionRunning {
		if err := j.Pipeline.Store.DeletePrefix(ctx, chunkPrefix(clipID, run)); err != nil {
			j.Pipeline.Log.Warn("Could not remove the audio chunks of finished captions; they go with the clip.", "clip_id", clipID, "error", err)
		}
		j.Pipeline.Log.Info("Clip captioned.", "clip_id", clipID, "lang", lang, "engine", j.Engine.Name(), "parts", total, "status", status)
	}
	return total, nil
}

// chunkCounts is how many parts the clip's current run has and how many are
// done (0, 0 without a run in progress).
func (cs *Captions) chunkCounts(ctx context.Context, q sqldb.Q, clipID string) (parts, done int, err error) {
	err = q.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN k.state = 'done' THEN 1 ELSE 0 END), 0)
		FROM caption_chunks k JOIN clips c ON c.id = k.clip_id AND c.caption_run = k.run WHERE k.clip_id = ?`, clipID).Scan(&parts, &done)
	if err != nil {
		return 0, 0, fmt.Errorf("count caption parts of clip %s: %w", clipID, err)
	}
	return parts, done, nil
}

// QueueCaptionsEarly queues a clip's captions as soon as its probe found
// sound, before it is transcoded: captions come from the source's audio,
// which does not wait for any rendition. publish then leaves the captions
// state alone.
func (p *Pipeline) QueueCaptionsEarly(ctx context.Context, clipID string, hasAudio bool) {
	if !hasAudio || p.Queue == nil {
		return
	}
	res, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET caption_status = ?, caption_progress = 0, caption_reason = '' WHERE id = ? AND caption_status = ''`,
		CaptionPending, clipID)
	if err != nil {
		p.Log.Warn("Could not queue captions early; they are queued when the clip is ready.", "clip_id", clipID, "error", err)
		return
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return // queued already (a retried processing job)
	}
	if err := p.Queue.EnqueueCaptions(ctx, clipID); err != nil {
		p.Log.Warn("Could not queue captions early; they are queued when the clip is ready.", "clip_id", clipID, "error", err)
		_, _ = p.Clips.db.Writer().Exec(context.WithoutCancel(ctx), `UPDATE clips SET caption_status = '' WHERE id = ? AND caption_status = ?`, clipID, CaptionPending)
	}
}

// captionsStarted tells publish that captions were queued early, so it
// neither queues them again nor resets their state.
func (p *Pipeline) captionsStarted(ctx context.Context, clipID string) bool {
	var status string
	_ = p.Clips.db.Reader().QueryRow(ctx, `SELECT caption_status FROM clips WHERE id = ?`, clipID).Scan(&status)
	return status != ""
}

// clearMedia removes the media objects of an earlier attempt before a
// transcode's output is stored, except captions, which the captions job may
// have written already from the source's audio.
func (p *Pipeline) clearMedia(ctx context.Context, clipID string) error {
	objs, err := p.Store.List(ctx, mediaKey(clipID, ""))
	if err != nil {
		return fmt.Errorf("list old media of clip %s: %w", clipID, err)
	}
	keep := mediaKey(clipID, "captions/")
	for _, o := range objs {
		if strings.HasPrefix(o.Key, keep) {
			continue
		}
		if err := p.Store.Delete(ctx, o.Key); err != nil {
			return fmt.Errorf("clear old media of clip %s: %w", clipID, err)
		}
	}
	return nil
}

// withCaptionTracks returns info as media JSON keeping the caption tracks
// the row holds now; q must hold the clip's row lock.
func withCaptionTracks(ctx context.Context, q sqldb.Q, clipID string, info MediaInfo) (string, error) {
	var raw string
	if err := q.QueryRow(ctx, `SELECT media_json FROM clips WHERE id = ?`, clipID).Scan(&raw); err != nil {
		return "", err
	}
	var cur MediaInfo
	_ = json.Unmarshal([]byte(raw), &cur)
	info.Captions = cur.Captions
	b, err := json.Marshal(info)
	return string(b), err
}
