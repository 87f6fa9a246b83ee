package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/storage"
	"github.com/filmroom/filmroom/media/transcode"
	"github.com/filmroom/filmroom/media/upload"
)

// uploadsPath is where the tus endpoint is mounted.
const uploadsPath = "/api/v1/uploads/"

// mediaParts are the media side of a node.
type mediaParts struct {
	store    storage.Store
	pipeline *media.Pipeline
	jobs     *media.Jobs
	uploads  *upload.Uploads
	// captions is the caption job, whose store the HTTP handler shares.
	captions *media.CaptionJob
	// origin is where presigned media URLs point (the object store), for
	// the page's security policy; empty for the local store.
	origin string
}

func s3Config(cfg Config) storage.S3Config {
	return storage.S3Config{Endpoint: cfg.S3Endpoint, Region: cfg.S3Region, Bucket: cfg.S3Bucket, AccessKey: cfg.S3AccessKey,
		SecretKey: cfg.S3SecretKey, PathStyle: cfg.S3PathStyle, Prefix: cfg.S3Prefix}
}

func openStore(ctx context.Context, cfg Config) (storage.Store, error) {
	if cfg.S3Bucket != "" {
		return storage.NewS3(ctx, s3Config(cfg))
	}
	return storage.NewLocal(filepath.Join(cfg.DataDir, "media"))
}

// newMedia builds storage, the pipeline and the job queue. The tus endpoint
// is built only when withUploads (a serve node, not a worker).
func newMedia(ctx context.Context, cfg Config, db *sqldb.DB, clips *media.Clips, log *slog.Logger, withUploads bool) (*mediaParts, error) {
	store, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("media storage: %w", err)
	}
	tmp := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmp, 0o750); err != nil {
		return nil, fmt.Errorf("create %s: %w", tmp, err)
	}
	timeout := cfg.TranscodeTimeout
	if timeout <= 0 {
		timeout = 2 * time.Hour
	}
	p := &media.Pipeline{Clips: clips, Store: store, Log: log, TempDir: tmp, Limits: transcode.DefaultLimits(),
		Options: transcode.Options{Threads: cfg.FFmpegThreads, Timeout: timeout, Chunk: ladderChunks(cfg.LadderChunk)},
		Space:   &media.Space{Margin: cfg.MinFreeSpace}, LocalStore: cfg.S3Bucket == "", KeepOriginals: cfg.KeepOriginalsFor}
	captioner, err := newCaptioner(cfg, clips, store, p, log)
	if err != nil {
		return nil, err
	}
	jobs, err := media.NewJobs(ctx, db, media.JobsConfig{Workers: cfg.Workers, Timeout: timeout + 10*time.Minute, Lease: cfg.JobLease}, p, captioner, cfg.Migrate, log)
	if err != nil {
		return nil, err
	}
	p.Queue = jobs
	clips.OnDelete = p.DeleteObjects
	// Hard delete: River's jobs name the clip in their args, with no
	// foreign key to cascade (media/forget.go).
	clips.Forget = append(clips.Forget, media.ForgetClipJobs)
	m := &mediaParts{store: store, pipeline: p, jobs: jobs, captions: captioner, origin: presignOrigin(ctx, store)}
	if withUploads {
		ucfg := upload.Config{
			BasePath: uploadsPath,
			MaxSize:  cfg.MaxUploadSize,
			Authorize: func(r *http.Request) (string, error) {
				a, ok := accounts.ActorFrom(r.Context())
				if !ok {
					return "", apperr.ErrUnauthorized
				}
				return a.UserID, nil
			},
			Validate:  p.ValidateUpload,
			Completed: p.Completed,
		}
		if cfg.S3Bucket != "" {
			client, err := storage.NewS3Client(ctx, s3Config(cfg))
			if err != nil {
				return nil, err
			}
			ucfg.S3 = &upload.S3Target{Client: client, Bucket: cfg.S3Bucket, Prefix: cfg.S3Prefix + "uploads/", TempDir: tmp}
		} else {
			ucfg.Local = filepath.Join(cfg.DataDir, "uploads")
			p.UploadDir = ucfg.Local
		}
		m.uploads, err = upload.New(ucfg, log.With("component", "uploads"))
		if err != nil {
			_ = jobs.Stop(ctx)
			return nil, fmt.Errorf("uploads: %w", err)
		}
		clips.ForgetUpload = m.uploads.Forget
	}
	return m, nil
}

func (m *mediaParts) routes(api *echo.Group) {
	if m.uploads != nil {
		// Only the methods tus 1.0 (creation, termination) uses.
		h := echo.WrapHandler(m.uploads)
		api.POST("/uploads", h)
		api.POST("/uploads/", h) // tus clients often keep the slash of the endpoint URL
		api.OPTIONS("/uploads", h)
		for _, method := range []string{http.MethodHead, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			api.Add(method, "/uploads/*", h)
		}
	}
}

func (m *mediaParts) start(ctx context.Context) error { return m.jobs.Start(ctx) }

func (m *mediaParts) close(ctx context.Context) error {
	var err error
	if m.uploads != nil {
		err = m.uploads.Close()
	}
	if jerr := m.jobs.Stop(ctx); jerr != nil && err == nil {
		err = jerr
	}
	return err
}

// newCaptioner builds the speech engine the flags (and the FILMROOM_*
// captions variables, see media/captions) name. An engine that cannot be
// used is not fatal: videos still play, and each clip records why it has no
// automatic captions, which is where a teacher and an operator look.
func newCaptioner(cfg Config, clips *media.Clips, store storage.Store, p *media.Pipeline, log *slog.Logger) (*media.CaptionJob, error) {
	ccfg, err := captions.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	if cfg.CaptionEngine != "" {
		ccfg.Engine = cfg.CaptionEngine
	}
	if cfg.WhisperBin != "" {
		ccfg.Whisper.Bin = cfg.WhisperBin
	}
	if cfg.WhisperModel != "" {
		ccfg.Whisper.Model = cfg.WhisperModel
	}
	if cfg.FFmpegThreads > 0 && ccfg.Workers == 0 {
		ccfg.Workers = cfg.FFmpegThreads
	}
	ccfg.TempDir = p.TempDir
	if cfg.S3Bucket != "" {
		// Amazon Transcribe reads media from S3: stage the extracted audio
		// next to the clips, and remove it when the job is done.
		ccfg.AWS.Stage = func(ctx context.Context, localPath string) (string, func(), error) {
			return stageAudio(ctx, store, cfg, localPath, log)
		}
	}
	ccfg.Logger = log.With("component", "captions")
	lang := cfg.CaptionsLanguage
	if lang == "" {
		lang = media.DefaultCaptionLanguage
	}
	if lang, err = media.ParseLanguage(lang); err != nil {
		return nil, fmt.Errorf("--captions-language: %w", err)
	}
	job := &media.CaptionJob{Pipeline: p, Captions: media.NewCaptions(clips, store), Language: lang, ChunkTarget: cfg.CaptionsChunk}
	job.Engine, job.EngineErr = captions.New(ccfg)
	if job.EngineErr == nil && job.Engine.Name() == captions.EngineAWSTranscribe && cfg.S3Bucket == "" {
		job.EngineErr = fmt.Errorf("%w: aws-transcribe reads media from S3; keep media in S3 (--s3-bucket) to use it", captions.ErrEngineNotFound)
	}
	if job.EngineErr != nil {
		job.Engine = nil
		log.Error("The captions engine cannot be used; clips will not be captioned automatically.", "engine", ccfg.Engine, "error", job.EngineErr)
	} else {
		log.Info("Captions engine ready.", "engine", job.Engine.Name(), "language", lang)
	}
	return job, nil
}

// stageAudio uploads a clip's extracted audio for Amazon Transcribe and
// returns its s3:// URI and a cleanup that deletes it.
func stageAudio(ctx context.Context, store storage.Store, cfg Config, localPath string, log *slog.Logger) (string, func(), error) {
	f, err := os.Open(localPath)
	if err != nil {
		return "", nil, fmt.Errorf("stage audio: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("stage audio: %w", err)
	}
	key := "captions-staging/" + id.New() + ".wav"
	if err := store.Put(ctx, key, f, st.Size(), "audio/wav"); err != nil {
		return "", nil, fmt.Errorf("stage audio: %w", err)
	}
	prefix := strings.Trim(cfg.S3Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	cleanup := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := store.Delete(dctx, key); err != nil {
			log.Warn("Could not delete staged audio.", "key", key, "error", err)
		}
	}
	return "s3://" + cfg.S3Bucket + "/" + prefix + key, cleanup, nil
}

// purgeOriginals deletes kept unredacted originals whose time is up.
func (m *mediaParts) purgeOriginals(ctx context.Context, log *slog.Logger) {
	n, err := m.pipeline.PurgeOriginals(ctx)
	if err != nil {
		log.Warn("Could not purge kept unredacted originals.", "error", err)
	} else if n > 0 {
		log.Info("Purged kept unredacted originals.", "count", n)
	}
}

// sweepUploads ends uploads nobody touched for a day; their clips never
// existed, so nothing else needs cleaning.
func (m *mediaParts) sweepUploads(ctx context.Context, log *slog.Logger) {
	if m.uploads == nil {
		return
	}
	n, err := m.uploads.Sweep(ctx, 24*time.Hour)
	if err != nil {
		log.Warn("Could not sweep abandoned uploads.", "error", err)
	} else if n > 0 {
		log.Info("Swept abandoned uploads.", "count", n)
	}
}

// presignOrigin is the scheme and host of the store's presigned URLs (one
// presigned for a key that need not exist: presigning does not ask the
// store), or "" when the store serves through this server.
func presignOrigin(ctx context.Context, store storage.Store) string {
	u, err := store.PresignGet(ctx, "origin-probe", time.Minute)
	if err != nil {
		return ""
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// ladderChunks turns --ladder-chunk into chunk bounds (Min < 0: off).
func ladderChunks(d time.Duration) transcode.ChunkOptions {
	if d <= 0 {
		return transcode.ChunkOptions{Min: -1}
	}
	return transcode.ChunkOptions{Min: d, Max: 2 * d}
}
