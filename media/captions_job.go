package media

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media/captions"
)

// DefaultCaptionLanguage is what the speech engine is asked to hear when the
// operator names no language (the Debian pocketsphinx model is English).
const DefaultCaptionLanguage = "en"

// noSoundReason is the caption reason of a clip without an audio stream.
const noSoundReason = "This clip has no sound, so there is nothing to caption."

// CaptionJob is the Captioner the media job queue runs as soon as a clip's
// probe finds sound (and again, harmlessly, when the clip is ready): it
// extracts the audio of the stored source, cuts it into chunks captioned in
// parallel (see captions_chunks.go), and saves the machine version as the
// chunks finish. The clip plays throughout; only caption_status moves.
type CaptionJob struct {
	Pipeline *Pipeline
	Captions *Captions
	// Engine recognizes speech. When nil, EngineErr says why (not installed,
	// misconfigured) and every clip gets caption_status none with that
	// reason instead of failing over and over.
	Engine    captions.Engine
	EngineErr error
	// Language is the BCP 47 tag the engine transcribes ("" means en).
	Language string
	// ChunkTarget is the length of the chunks the audio is cut into (0:
	// DefaultCaptionChunk).
	ChunkTarget time.Duration
}

var _ Captioner = (*CaptionJob)(nil)

func (j *CaptionJob) lang() string {
	if j.Language == "" {
		return DefaultCaptionLanguage
	}
	return j.Language
}

// Caption starts (or resumes) the captioning of one clip. It is
// idempotent: a clip that already has machine captions in the language is
// left alone, and an unfinished run is carried on, not started over.
// Conditions a retry cannot change (no sound, no engine, no speech, an
// unsupported language) end with caption_status none and no error; errors
// before the chunks are queued return so that the queue retries, and the
// last attempt marks the clip failed with a reason a person can act on.
func (j *CaptionJob) Caption(ctx context.Context, clipID string, attempt, maxAttempts int) error {
	lang := j.lang()
	log := j.Pipeline.Log.With("clip_id", clipID, "attempt", attempt)
	c, err := j.Pipeline.Clips.get(ctx, clipID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil // deleted while queued
	}
	if err != nil {
		return err
	}
	if c.Status == StatusFailed || c.Status == StatusUploading {
		return nil // the clip failed (or is being replaced); nothing to caption
	}
	none := func(reason string) error {
		log.Info("Clip not captioned automatically.", "reason", reason)
		return j.Captions.setJobState(ctx, clipID, CaptionNone, 0, reason)
	}
	// has_audio is known once the clip is ready; before that the probe
	// found sound, and ExtractAudio says if it was wrong.
	if c.Status == StatusReady && !c.HasAudio {
		return none(noSoundReason)
	}
	if j.Engine == nil {
		reason := "Automatic captions are not available on this server"
		if j.EngineErr != nil {
			reason += ": " + j.EngineErr.Error()
		}
		return none(reason + ". You can upload a caption file (WebVTT or SRT); the site operator can install a speech engine (see the README, Captions).")
	}
	if j.Engine.Name() == captions.EngineNone {
		return none("Automatic captions are switched off on this server. You can upload a caption file (WebVTT or SRT).")
	}
	if c.CaptionStatus == CaptionReady {
		if t, err := j.Captions.track(ctx, j.Pipeline.Clips.db.Reader(), clipID, lang); err == nil && t.HasMachine {
			return nil // a retried job that already finished
		}
	}
	run, err := j.resumableRun(ctx, clipID)
	if err != nil {
		return err
	}
	if run == "" {
		if err := j.Captions.setJobState(ctx, clipID, CaptionRunning, 0, ""); err != nil {
			return err
		}
		var parts int
		run, parts, err = j.startRun(ctx, clipID, lang)
		switch {
		case errors.Is(err, ErrClipDeleted):
			return nil
		case errors.Is(err, captions.ErrNoAudio):
			return none(noSoundReason)
		case err != nil:
			return j.failed(ctx, clipID, attempt, maxAttempts, err)
		}
		log.Info("Captioning a clip in parts.", "run", run, "parts", parts, "lang", lang, "status", c.Status)
	}
	return j.dispatch(ctx, clipID, run, attempt, maxAttempts)
}

// Requeue queues the clip's automatic captions again, after checking that
// they can be made: the clip is ready, has sound, the engine is usable and
// no captioning is under way already.
func (j *CaptionJob) Requeue(ctx context.Context, c Clip) error {
	conflict := func(code, msg string) error { return apperr.New(apperr.ErrConflict, code, msg) }
	switch {
	case c.Status != StatusReady:
		return conflict("not_ready", "this clip is still being processed; it is captioned automatically once it is ready")
	case !c.HasAudio:
		return conflict("no_audio", noSoundReason)
	case j.Engine == nil:
		msg := "automatic captions are not available on this server"
		if j.EngineErr != nil {
			msg += ": " + j.EngineErr.Error()
		}
		return conflict("captions_unavailable", msg+"; you can upload a caption file (WebVTT or SRT)")
	case j.Engine.Name() == captions.EngineNone:
		return conflict("captions_unavailable", "automatic captions are switched off on this server; you can upload a caption file (WebVTT or SRT)")
	case j.Pipeline.Queue == nil:
		return conflict("captions_unavailable", "this server has no job queue for automatic captions")
	}
	// Claim the clip: only a clip not already queued or running moves to
	// pending, so two quick requests queue one job.
	res, err := j.Pipeline.Clips.db.Writer().Exec(ctx, `UPDATE clips SET caption_status = ?, caption_progress = 0, caption_reason = '', caption_run = '', updated_at = ?
		WHERE id = ? AND status = ? AND caption_status NOT IN (?, ?)`,
		CaptionPending, sqldb.Millis(j.Pipeline.Clips.now()), c.ID, StatusReady, CaptionPending, CaptionRunning)
	if err != nil {
		return fmt.Errorf("queue captions of clip %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return conflict("captions_busy", "captions for this clip are being made already")
	}
	if err := j.Pipeline.Queue.EnqueueCaptionsAgain(ctx, c.ID); err != nil {
		// Say so on the clip rather than leave it pending for ever.
		_ = j.Captions.setJobState(context.WithoutCancel(ctx), c.ID, CaptionFailed, 0, "Captions could not be queued; try again.")
		return fmt.Errorf("queue captions of clip %s: %w", c.ID, err)
	}
	j.Captions.changed(ctx, c.ID)
	return nil
}

// failed records a failed attempt: pending again while retries remain,
// failed with an actionable reason after the last one. It returns err so
// that the queue retries (or records the final failure).
func (j *CaptionJob) failed(ctx context.Context, clipID string, attempt, maxAttempts int, err error) error {
	j.Pipeline.Log.Warn("Captioning attempt failed.", "clip_id", clipID, "attempt", attempt, "max_attempts", maxAttempts, "error", err)
	// The job's context may be what ended; record the state regardless.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if attempt < maxAttempts {
		reason := fmt.Sprintf("Captioning failed on try %d of %d; it will be tried again.", attempt, maxAttempts)
		return errors.Join(err, j.Captions.setJobState(sctx, clipID, CaptionPending, 0, reason))
	}
	var reason string
	switch {
	case errors.Is(err, captions.ErrEngineTimeout), errors.Is(err, context.DeadlineExceeded):
		reason = fmt.Sprintf("Captioning took too long and was stopped (%d tries). The video still plays; you can upload a caption file (WebVTT or SRT), or ask the site operator to raise FILMROOM_CAPTIONS_TIMEOUT.", maxAttempts)
	case errors.Is(err, captions.ErrEngineFailed):
		reason = fmt.Sprintf("The speech engine failed on this clip (%d tries): %s. The video still plays; you can upload a caption file (WebVTT or SRT).", maxAttempts, shortError(err))
	default:
		reason = fmt.Sprintf("Captions could not be made (%d tries): %s. The video still plays; you can upload a caption file (WebVTT or SRT).", maxAttempts, shortError(err))
	}
	if serr := j.Captions.setJobState(sctx, clipID, CaptionFailed, 0, reason); serr != nil {
		return errors.Join(err, serr)
	}
	// The last attempt is over: cancel so the queue does not count it as
	// a fresh failure to retry.
	return river.JobCancel(err)
}

// shortError keeps the last line of an error, trimmed, for a reason shown to
// people (engine errors end with the program's last output line).
func shortError(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	return clipRunes(s, 300)
}
