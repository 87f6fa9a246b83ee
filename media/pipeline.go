package media

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
	"github.com/filmroom/filmroom/media/storage"
	"github.com/filmroom/filmroom/media/transcode"
	"github.com/filmroom/filmroom/media/upload"
)

// Object keys. Everything stored for a clip lives under clipPrefix, so
// deleting a clip is one DeletePrefix.
func clipPrefix(clipID string) string { return "clips/" + clipID + "/" }
func sourceKey(clipID string) string  { return clipPrefix(clipID) + "source/original" }
func mediaKey(clipID, rel string) string {
	return clipPrefix(clipID) + "media/" + rel
}

// Enqueuer puts a media job on the queue; the River-backed Jobs satisfies it.
type Enqueuer interface {
	EnqueueProcess(ctx context.Context, clipID string) error
	EnqueueCaptions(ctx context.Context, clipID string) error
	// EnqueueCaptionsAgain queues captioning that a person asked for, even
	// while the queue still records an earlier captions job of the clip.
	EnqueueCaptionsAgain(ctx context.Context, clipID string) error
}

// Pipeline turns finished uploads into playable clips.
type Pipeline struct {
	Clips   *Clips
	Store   storage.Store
	Queue   Enqueuer
	Log     *slog.Logger
	TempDir string
	Limits  transcode.Limits
	Options transcode.Options
	// Space, when set, refuses uploads and transcodes the disk cannot hold.
	Space *Space
	// UploadDir is where uploads are written on this node ("" when they go
	// to S3, which buffers parts in TempDir); LocalStore is true when the
	// media store is on this node's disk too.
	UploadDir  string
	LocalStore bool
	// KeepOriginals is how long the unredacted original of a redacted
	// clip is kept for its owner (0: deleted when the redaction is
	// applied); see redaction.go.
	KeepOriginals time.Duration
}

// transcodeSpace estimates the scratch space one transcode needs from its
// source: the copy of the source, the renditions and the progressive MP4
// (together at most about the source's size for lesson footage at our
// bitrates), and the same again when the results go to a local store.
func (p *Pipeline) transcodeSpace(size int64) int64 {
	need := 2 * size
	if p.LocalStore {
		need += size
	}
	return need
}

// ValidateUpload checks a tus upload's declared metadata before any byte is
// accepted: the filmroom limits that can be known from the size and type.
func (p *Pipeline) ValidateUpload(ctx context.Context, userID string, meta map[string]string, size int64) error {
	if size == 0 {
		return apperr.Invalid("file", "this file is empty (0 bytes); pick the recording again")
	}
	// The upload is written once while it arrives and copied once into a
	// local store as the clip's source; on S3 only parts are buffered here.
	if p.UploadDir != "" {
		need := size
		if p.LocalStore {
			need += size
		}
		if err := p.Space.Require(p.UploadDir, need, "this upload"); err != nil {
			return err
		}
	} else if err := p.Space.Require(p.TempDir, 0, "this upload"); err != nil {
		return err
	}
	if ft := meta["filetype"]; ft != "" && !strings.HasPrefix(ft, "video/") && !strings.HasPrefix(ft, "audio/") && ft != "application/octet-stream" {
		return apperr.New(apperr.ErrUnsupported, "unsupported_type", fmt.Sprintf("%q is not a video or audio file; upload a lesson recording (MP4, MOV, WebM, M4A…)", meta["filename"]))
	}
	if t := meta["title"]; t != "" {
		if prob := textcheck.Line(t); prob != "" {
			return apperr.Invalid("title", "the title %s", prob)
		}
	}
	consent, err := ConsentFromMeta(meta)
	if err != nil {
		return err
	}
	if err := p.Clips.checkUploadShare(ctx, consent, meta["group_id"]); err != nil {
		return err
	}
	if g := meta["group_id"]; g != "" {
		m, err := p.Clips.acc.Memberships(ctx, userID)
		if err != nil {
			return err
		}
		if _, ok := m[g]; !ok {
			return apperr.Forbidden("you can only share an upload with a group you belong to")
		}
	}
	return nil
}

// Completed stores a finished upload as a new clip's source and queues its
// processing. It is idempotent per upload: a retry after a crash finds the
// clip made the first time.
func (p *Pipeline) Completed(ctx context.Context, f upload.Finished) error {
	u, err := p.Clips.acc.User(ctx, f.UserID)
	if errors.Is(err, apperr.ErrNotFound) {
		// The account was deleted while its upload was delivered.
		p.Log.Info("The owner of an upload deleted their account; dropping the upload.", "upload_id", f.UploadID)
		return f.Remove(ctx)
	}
	if err != nil {
		return fmt.Errorf("owner of upload %s: %w", f.UploadID, err)
	}
	// Validated when the upload began (ValidateUpload).
	consent, _ := ConsentFromMeta(f.Meta)
	clipID, err := p.Ingest(ctx, u.Actor("upload"), NewClip{Title: f.Meta["title"], Filename: f.Meta["filename"],
		ContentType: f.Meta["filetype"], SizeBytes: f.Size, UploadID: f.UploadID, GroupID: f.Meta["group_id"], Consent: consent},
		IngestFile{SHA256: f.SHA256, Path: f.Path, Open: f.Open})
	if errors.Is(err, ErrClipDeleted) {
		// Deleted while its upload was delivered: the upload goes too.
		p.Log.Info("The clip of an upload was deleted while the upload was delivered; dropping the upload.", "upload_id", f.UploadID)
		if err := f.Remove(ctx); err != nil {
			return fmt.Errorf("drop upload %s of a deleted clip: %w", f.UploadID, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Remove(ctx); err != nil {
		p.Log.Warn("Could not remove a delivered upload; the sweeper will.", "upload_id", f.UploadID, "error", err)
	}
	p.Log.Info("Upload stored.", "clip_id", clipID, "upload_id", f.UploadID, "bytes", f.Size, "sha256", f.SHA256)
	return nil
}

// IngestFile is the whole file a clip is made from.
type IngestFile struct {
	// SHA256 is the lowercase hex SHA-256 of the file.
	SHA256 string
	// Path is the file on this machine's disk, if it is there; the local
	// store then links it as the source instead of copying it. Empty for
	// an upload kept in S3.
	Path string
	// Open reads the file (used when Path is empty).
	Open func(context.Context) (io.ReadCloser, error)
}

// Ingest makes a clip from a whole file (an upload, or the demo's clip),
// stores the file as its source and queues processing. With an UploadID it
// is idempotent: the clip made by an earlier attempt is reused.
func (p *Pipeline) Ingest(ctx context.Context, a accounts.Actor, n NewClip, file IngestFile) (string, error) {
	var clipID string
	created := false
	err := sql.ErrNoRows
	if n.UploadID != "" {
		err = p.Clips.db.Reader().QueryRow(ctx, `SELECT id FROM clips WHERE upload_id = ?`, n.UploadID).Scan(&clipID)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c, err := p.Clips.Create(ctx, a, n)
		var v *apperr.Validation
		if errors.As(err, &v) && n.GroupID != "" {
			// The group may have gone since the upload began: keep the clip private.
			n.GroupID = ""
			c, err = p.Clips.Create(ctx, a, n)
		}
		if err != nil {
			return "", err
		}
		clipID, created = c.ID, true
	case err != nil:
		return "", fmt.Errorf("find clip of upload %s: %w", n.UploadID, err)
	}
	if err := p.storeSource(ctx, clipID, n.SizeBytes, file); err != nil {
		if created && errors.Is(err, errSourceGone) {
			// No clip without its file: the upload may be gone because its
			// clip was deleted (Purge removes the upload before the row), and
			// a retry of a passing failure makes the clip again.
			if perr := p.Clips.purge(ctx, clipID, true); perr != nil {
				p.Log.Warn("Could not remove a clip whose upload could not be read.", "clip_id", clipID, "error", perr)
			}
		}
		return "", err
	}
	if err := p.stillThere(ctx, clipID); err != nil {
		return "", err
	}
	if _, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET status = ?, sha256 = ?, size_bytes = ?, progress = 0, updated_at = ? WHERE id = ? AND status = ?`,
		StatusProbing, file.SHA256, n.SizeBytes, sqldb.Millis(p.Clips.now()), clipID, StatusUploading); err != nil {
		return "", fmt.Errorf("mark clip %s uploaded: %w", clipID, err)
	}
	if err := p.Queue.EnqueueProcess(ctx, clipID); err != nil {
		return "", fmt.Errorf("queue processing of clip %s: %w", clipID, err)
	}
	// Deleted while the source was stored: the job just queued must go.
	if err := p.stillThere(ctx, clipID); err != nil {
		return "", err
	}
	return clipID, nil
}

func (p *Pipeline) setStatus(ctx context.Context, clipID string, st Status, progress float64) error {
	_, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET status = ?, progress = ?, failure_code = '', failure_reason = '', updated_at = ? WHERE id = ?`,
		st, progress, sqldb.Millis(p.Clips.now()), clipID)
	if err != nil {
		return fmt.Errorf("set clip %s %s: %w", clipID, st, err)
	}
	return nil
}

// Fail marks a clip failed with a reason a person can act on.
func (p *Pipeline) Fail(ctx context.Context, clipID, code, reason string) error {
	// A clip that plays from its quick rendition stays playable: only its
	// ladder failed, and it keeps the rendition it has.
	kept, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET ladder_state = ?, notice = '', updated_at = ?
		WHERE id = ? AND ladder_state = ? AND status IN (?, ?)`, LadderFailed, sqldb.Millis(p.Clips.now()), clipID, LadderPending, StatusReady, StatusCaptioning)
	if err != nil {
		return fmt.Errorf("mark ladder of clip %s failed: %w", clipID, err)
	}
	if n, err := kept.RowsAffected(); err == nil && n > 0 {
		p.Log.Warn("The ladder of a playable clip failed; it stays playable from its quick rendition.", "clip_id", clipID, "code", code, "reason", reason)
		return nil
	}
	_, err = p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET status = ?, failure_code = ?, failure_reason = ?, notice = '', updated_at = ? WHERE id = ?`,
		StatusFailed, code, reason, sqldb.Millis(p.Clips.now()), clipID)
	if err != nil {
		return fmt.Errorf("mark clip %s failed: %w", clipID, err)
	}
	p.Log.Info("Clip failed.", "clip_id", clipID, "code", code, "reason", reason)
	return nil
}

// ErrRejected wraps a rejection: the job must not be retried.
var ErrRejected = errors.New("media rejected")

// MediaInfo is what the pipeline made, stored as the clip's media JSON.
type MediaInfo struct {
	Master     string          `json:"master,omitempty"`
	Renditions []RenditionInfo `json:"renditions"`
	MP4        string          `json:"mp4,omitempty"`
	Poster     string          `json:"poster,omitempty"`
	Sprite     string          `json:"sprite,omitempty"`
	Thumbnails string          `json:"thumbnails,omitempty"`
	Waveform   string          `json:"waveform,omitempty"`
	FrameRate  float64         `json:"frame_rate,omitempty"`
	// Captions lists caption tracks by language (filled by the captions step).
	Captions []CaptionTrackInfo `json:"captions,omitempty"`
}

// RenditionInfo describes one HLS rendition.
type RenditionInfo struct {
	Name      string `json:"name"`
	Width     int    `json:"width"`
	Height    int    `json:"height"`
	Bandwidth int    `json:"bandwidth"`
	Playlist  string `json:"playlist"`
}

// CaptionTrackInfo names a caption track in the media JSON.
type CaptionTrackInfo struct {
	Lang  string `json:"lang"`
	Label string `json:"label"`
	Kind  string `json:"kind"` // machine or edited
	Path  string `json:"path"`
}

// Process probes, validates and transcodes a clip's source and stores the
// results. A *transcode.Rejection comes back wrapped in ErrRejected after
// the clip is marked failed; other errors are worth a retry.
// errSourceGone: the file a clip was to be made from cannot be read.
var errSourceGone = errors.New("the file is gone")

// storeSource stores file as the clip's source: linked where it is on the
// store's disk (a whole lesson not copied again), read and stored
// elsewhere.
func (p *Pipeline) storeSource(ctx context.Context, clipID string, size int64, file IngestFile) error {
	key := sourceKey(clipID)
	if file.Path != "" {
		if _, err := os.Stat(file.Path); err != nil {
			return fmt.Errorf("read the file of clip %s: %w: %w", clipID, errSourceGone, err)
		}
		if err := p.Store.PutFile(ctx, key, file.Path, "application/octet-stream"); err != nil {
			return fmt.Errorf("store source of clip %s: %w", clipID, err)
		}
		return nil
	}
	r, err := file.Open(ctx)
	if err != nil {
		return fmt.Errorf("read the file of clip %s: %w: %w", clipID, errSourceGone, err)
	}
	defer r.Close()
	if err := p.Store.Put(ctx, key, r, size, "application/octet-stream"); err != nil {
		return fmt.Errorf("store source of clip %s: %w", clipID, err)
	}
	return nil
}

// sourceFile is a local path to the clip's source: the stored file itself
// on the local store (read only, never written through it), a copy in
// work from S3.
func (p *Pipeline) sourceFile(ctx context.Context, clipID, work string) (string, error) {
	path, err := p.Store.LocalFile(ctx, sourceKey(clipID))
	if err == nil {
		return path, nil
	}
	if !errors.Is(err, storage.ErrNotLocal) {
		return "", fmt.Errorf("source of clip %s: %w", clipID, err)
	}
	src := filepath.Join(work, "source")
	if err := p.fetch(ctx, sourceKey(clipID), src); err != nil {
		return "", fmt.Errorf("source of clip %s: %w", clipID, err)
	}
	return src, nil
}

func (p *Pipeline) Process(ctx context.Context, clipID string) error {
	return p.process(ctx, clipID, "")
}

// process is Process for the attempt holding the clip's lease token (""
// for none): an attempt whose lease was taken over must not replace the
// media or mark the clip, because the attempt that took over does.
func (p *Pipeline) process(ctx context.Context, clipID, token string) error {
	c, err := p.Clips.get(ctx, clipID)
	if errors.Is(err, apperr.ErrNotFound) {
		return nil // deleted while queued: nothing to do
	}
	if err != nil {
		return err
	}
	if c.Ladder != nil && c.Ladder.State == LadderPending && (c.Status == StatusReady || c.Status == StatusCaptioning) {
		return p.buildLadder(ctx, c, token)
	}
	if c.Status == StatusReady || c.Status == StatusCaptioning || c.Status == StatusFailed {
		return nil // a retried job that already finished
	}
	if err := p.Space.Require(p.TempDir, p.transcodeSpace(c.SizeBytes), "processing this video"); err != nil {
		// Say why nothing happens yet; the status stays, and the note goes
		// when processing moves on.
		var ae *apperr.Error
		if errors.As(err, &ae) {
			_, _ = p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET failure_code = ?, failure_reason = ? WHERE id = ?`,
				"waiting_for_space", "Waiting for disk space on the server: "+ae.Message, clipID)
		}
		return fmt.Errorf("process clip %s: %w", clipID, err)
	}
	work, err := os.MkdirTemp(p.TempDir, "filmroom-job-")
	if err != nil {
		return fmt.Errorf("process clip %s: %w", clipID, err)
	}
	defer os.RemoveAll(work)
	src, err := p.sourceFile(ctx, clipID, work)
	if err != nil {
		return fmt.Errorf("process clip %s: %w", clipID, err)
	}
	if err := p.setStatus(ctx, clipID, StatusProbing, 0); err != nil {
		return err
	}
	probe, err := transcode.ProbeFile(ctx, src)
	if err == nil {
		err = transcode.Validate(probe, p.Limits)
	}
	if rej, ok := transcode.AsRejection(err); ok {
		if ferr := p.Fail(ctx, clipID, rej.Code, rej.Reason); ferr != nil {
			return ferr
		}
		return fmt.Errorf("process clip %s: %w: %w", clipID, ErrRejected, err)
	}
	if err != nil {
		return fmt.Errorf("probe clip %s: %w", clipID, err)
	}
	if fast, err := p.startFast(ctx, clipID, token, work, src, probe); fast || err != nil {
		return err
	}
	if err := p.setStatus(ctx, clipID, StatusTranscoding, 0); err != nil {
		return err
	}
	out := filepath.Join(work, "out")
	res, err := p.encode(ctx, clipID, src, out, probe, p.Options, `UPDATE clips SET progress = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	return p.publish(ctx, clipID, token, out, res, "")
}

// publish stores what a transcode wrote as the clip's media, marks the
// clip ready and queues its captions. start is how it became playable
// ("copy" or "preview", whose ladder is still to come; "" for the ladder).
func (p *Pipeline) publish(ctx context.Context, clipID, token, out string, res *transcode.Result, start string) error {
	if err := p.holds(ctx, clipID, token); err != nil {
		return err
	}
	// Replace any partial output of an earlier attempt, then upload.
	if err := p.Store.DeletePrefix(ctx, mediaKey(clipID, "")); err != nil {
		return fmt.Errorf("clear old media of clip %s: %w", clipID, err)
	}
	if err := p.storeDir(ctx, clipID, out); err != nil {
		return err
	}
	return p.markReady(ctx, clipID, token, res, start)
}

// markReady records a stored transcode as the clip's media, marks the
// clip ready and queues its captions.
func (p *Pipeline) markReady(ctx context.Context, clipID, token string, res *transcode.Result, start string) error {
	mediaJSON, _ := json.Marshal(mediaInfo(res))
	captionStatus, captionReason := CaptionPending, ""
	if !res.HasAudio {
		captionStatus, captionReason = CaptionNone, noSoundReason
	}
	ladder := ""
	if start != "" {
		ladder = LadderPending
	}
	done, err := p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET status = ?, progress = 100, duration_ms = ?, width = ?, height = ?,
		has_video = ?, has_audio = ?, media_json = ?, caption_status = ?, caption_reason = ?, failure_code = '', failure_reason = '', notice = '',
		start_path = ?, ladder_state = ?, ladder_progress = 0, updated_at = ?
		WHERE id = ? AND (? = '' OR lease_owner = ?)`,
		StatusReady, res.Duration.Milliseconds(), res.Width, res.Height, res.HasVideo, res.HasAudio, string(mediaJSON), captionStatus, captionReason,
		start, ladder, sqldb.Millis(p.Clips.now()), clipID, token, token)
	if err != nil {
		return fmt.Errorf("mark clip %s ready: %w", clipID, err)
	}
	if n, err := done.RowsAffected(); err == nil && n == 0 {
		// Deleted while it was transcoded: remove what was just stored.
		if err := p.stillThere(ctx, clipID); errors.Is(err, ErrClipDeleted) {
			return nil
		} else if err != nil {
			return err
		}
		if token != "" {
			return fmt.Errorf("mark clip %s ready: %w", clipID, errLeaseLost)
		}
	}
	p.Log.Info("Clip ready.", "clip_id", clipID, "duration_ms", res.Duration.Milliseconds(), "renditions", len(res.Renditions), "start", start)
	if res.HasAudio && p.Queue != nil {
		if err := p.Queue.EnqueueCaptions(ctx, clipID); err != nil {
			p.Log.Warn("Could not queue captions.", "clip_id", clipID, "error", err)
		}
	}
	return nil
}

// holds checks that the attempt with token still holds the clip's lease
// (always true without a token).
func (p *Pipeline) holds(ctx context.Context, clipID, token string) error {
	if token == "" {
		return nil
	}
	var owner string
	if err := p.Clips.db.Writer().QueryRow(ctx, `SELECT lease_owner FROM clips WHERE id = ?`, clipID).Scan(&owner); err != nil {
		return fmt.Errorf("check lease of clip %s: %w", clipID, err)
	}
	if owner != token {
		return fmt.Errorf("store media of clip %s: %w", clipID, errLeaseLost)
	}
	return nil
}

// fetch copies a stored object to a local file.
func (p *Pipeline) fetch(ctx context.Context, key, path string) error {
	obj, err := p.Store.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer obj.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, obj); err != nil {
		f.Close()
		return fmt.Errorf("copy %s: %w", key, err)
	}
	return f.Close()
}

// DeleteObjects removes everything stored for a clip (Clips.OnDelete).
func (p *Pipeline) DeleteObjects(ctx context.Context, clipID string) error {
	return p.Store.DeletePrefix(ctx, clipPrefix(clipID))
}
