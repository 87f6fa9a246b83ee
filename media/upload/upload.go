package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"

	"github.com/filmroom/filmroom/internal/apperr"
)

// DefaultMaxSize is the largest upload accepted when Config.MaxSize is 0:
// about an hour of 1080p phone video.
const DefaultMaxSize = 4 << 30

// ownerKey is the upload metadata entry holding the creator's user ID. It is
// set by the server at creation (a client-sent value is discarded) and is
// never passed on as client metadata.
const ownerKey = "filmroom_user"

// Config configures Uploads. Authorize, Validate and Completed are required.
type Config struct {
	// BasePath is the URL path the handler is mounted at, e.g.
	// "/api/v1/uploads/"; tus Location headers are built from it. Requests
	// may arrive with or without it (http.StripPrefix).
	BasePath string
	// MaxSize is the largest accepted upload in bytes (default 4 GiB).
	MaxSize int64
	// Local is the folder for tusd's filestore, used when S3 is nil.
	Local string
	// S3, when set, stores uploads in a bucket with tusd's s3store.
	S3 *S3Target
	// Authorize runs before any tus request is served and returns the user
	// ID. An error wrapping apperr.ErrForbidden answers 403, any other 401.
	Authorize func(r *http.Request) (userID string, err error)
	// Validate runs at creation with the client's tus metadata (title,
	// filename, filetype...) and the declared size. Its error message is
	// shown to the person uploading; wrap apperr.ErrTooLarge for 413,
	// apperr.ErrUnsupported for 415, apperr.ErrForbidden for 403,
	// apperr.ErrInsufficientStorage for 507; anything
	// else is 400.
	Validate func(ctx context.Context, userID string, meta map[string]string, size int64) error
	// Completed runs once a finished upload has been hashed. It must be
	// idempotent per UploadID (see the package doc). A returned error is
	// retried a few times, then again when the next Uploads starts.
	Completed func(ctx context.Context, u Finished) error
	// Workers is the number of uploads hashed and delivered at once
	// (default 1: hashing is disk-bound and shares the machine with ffmpeg).
	Workers int
	// CompletedTimeout bounds hashing plus one Completed call (default 30 min).
	CompletedTimeout time.Duration
	// Now is the clock used by Sweep (default time.Now); tests move it.
	Now func() time.Time
}

// Finished is an upload whose bytes have all arrived.
type Finished struct {
	UploadID string
	UserID   string
	// Meta is the client's tus metadata (filename, filetype, title...).
	Meta map[string]string
	Size int64
	// SHA256 is the lowercase hex SHA-256 of the whole file, computed by
	// reading the assembled upload back.
	SHA256 string
	// Path is the file holding the upload on this machine's disk, with
	// the local upload folder ("" in S3). It must be read only: Completed
	// may link it rather than copy it.
	Path string
	// Open reads the whole file; call it as often as needed until Remove.
	Open func(ctx context.Context) (io.ReadCloser, error)
	// Remove deletes the upload once its bytes are safely elsewhere.
	Remove func(ctx context.Context) error
}

// Uploads is the tus endpoint. It is an http.Handler; Close stops its
// completion workers.
type Uploads struct {
	cfg     Config
	log     *slog.Logger
	tus     *handler.UnroutedHandler
	serve   http.Handler
	backend backend
	locker  *memorylocker.MemoryLocker
	core    handler.DataStore
	term    handler.TerminaterDataStore
	owners  ownerCache
	// active holds the request being served for each upload, so that a
	// new request for the same upload first stops the old one and waits
	// for it: tusd interrupts a running PATCH itself, but its handler then
	// touches the upload's state from both requests at once (a data race
	// in tusd v2.9.1), and the client sees a spurious "interrupted" error.
	activeMu sync.Mutex
	active   map[string]*inflight

	queue    chan string
	stop     chan struct{}
	baseCtx  context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeOne sync.Once
}

type userKey struct{}

// New builds the endpoint over cfg.Local or cfg.S3, and starts delivering
// any upload that finished but was not delivered before the last shutdown.
func New(cfg Config, log *slog.Logger) (*Uploads, error) {
	if cfg.Authorize == nil || cfg.Validate == nil || cfg.Completed == nil {
		return nil, errors.New("upload: Authorize, Validate and Completed are required")
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.CompletedTimeout <= 0 {
		cfg.CompletedTimeout = 30 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/"
	}
	if !strings.HasSuffix(cfg.BasePath, "/") {
		cfg.BasePath += "/"
	}

	var b backend
	var err error
	switch {
	case cfg.S3 != nil:
		b, err = newS3Backend(*cfg.S3)
	case cfg.Local != "":
		b, err = newLocalBackend(cfg.Local)
	default:
		err = errors.New("neither Local nor S3 is set")
	}
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}

	u := &Uploads{
		cfg:     cfg,
		log:     log,
		backend: b,
		locker:  memorylocker.New(),
		owners:  ownerCache{m: map[string]string{}},
		queue:   make(chan string, 64),
		stop:    make(chan struct{}),
	}
	composer := handler.NewStoreComposer()
	b.compose(composer)
	u.locker.UseIn(composer)
	u.core, u.term = composer.Core, composer.Terminater

	tus, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer:             composer,
		BasePath:                  cfg.BasePath,
		MaxSize:                   cfg.MaxSize,
		DisableDownload:           true, // bytes leave through Completed, never back to the browser
		DisableConcatenation:      true,
		Cors:                      &handler.CorsConfig{Disable: true}, // same-origin app; CORS belongs to the server layer
		PreUploadCreateCallback:   u.preCreate,
		PreFinishResponseCallback: u.preFinish,
		Logger:                    tusLogger(log),
	})
	if err != nil {
		return nil, fmt.Errorf("upload: tus handler: %w", err)
	}
	u.tus = tus
	u.serve = tus.Middleware(http.HandlerFunc(u.route))

	u.baseCtx, u.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		u.wg.Add(1)
		go u.worker()
	}
	u.wg.Add(1)
	go u.recover()
	return u, nil
}

// ServeHTTP authorizes the request and hands it to tusd.
func (u *Uploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Accept the path with or without the base path, so the handler works
	// both mounted directly and behind http.StripPrefix.
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, u.cfg.BasePath); ok {
		p = rest
	} else if p+"/" == u.cfg.BasePath {
		p = ""
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = "/"+strings.TrimPrefix(p, "/"), ""

	if r.Method == http.MethodOptions {
		u.serve.ServeHTTP(w, r2) // tus capability discovery needs no sign-in
		return
	}
	userID, err := u.cfg.Authorize(r)
	if err != nil || userID == "" {
		status, msg := http.StatusUnauthorized, "sign in to upload"
		if errors.Is(err, apperr.ErrForbidden) {
			status, msg = http.StatusForbidden, "you may not upload"
		}
		plain(w, status, msg)
		return
	}
	r2 = r2.WithContext(context.WithValue(r2.Context(), userKey{}, userID))
	if id := strings.Trim(r2.URL.Path, "/"); id != "" {
		// Only a PATCH can stall for long (it waits for the client's bytes).
		interrupt := func() {}
		if r.Method == http.MethodPatch {
			rc := http.NewResponseController(w)
			interrupt = func() {
				// A read deadline in the past ends the request's blocked body
				// read at once; tusd then keeps what arrived, as when a client
				// disconnects.
				if err := rc.SetReadDeadline(time.Now()); err != nil {
					u.log.WarnContext(r.Context(), "Could not stop an earlier request for an upload; the new one waits for it", "upload_id", id, "error", err)
				}
			}
		}
		release, ok := u.exclusive(r2.Context(), id, interrupt)
		if !ok {
			return // the client went away while waiting
		}
		defer release()
	}
	ew := &errorWriter{ResponseWriter: w, log: u.log, r: r2}
	u.serve.ServeHTTP(ew, r2)
	ew.finish()
}

type inflight struct {
	done      chan struct{}
	interrupt func()
	stopping  sync.Once
}

// exclusive waits until no other request is being served for the upload.
// A request still running for it (a PATCH whose wifi dropped, which the
// server may not notice for a minute) is stopped by ending its body read
// (interrupt), which makes tusd keep what arrived. The channel the old
// request closes when it is done orders its writes before the new
// request's reads.
//
// tusd's own lock could stop it too (asking for a held lock makes tusd
// cancel the holder), but tusd v2.9.1 then reads the request's body field
// without synchronization (handler/context.go), a data race the race
// detector reports; with requests serialized here, tusd's lock is always
// free when tusd takes it.
func (u *Uploads) exclusive(ctx context.Context, id string, interrupt func()) (release func(), ok bool) {
	me := &inflight{done: make(chan struct{}), interrupt: interrupt}
	for {
		u.activeMu.Lock()
		if u.active == nil {
			u.active = map[string]*inflight{}
		}
		cur := u.active[id]
		if cur == nil {
			u.active[id] = me
			u.activeMu.Unlock()
			return func() {
				u.activeMu.Lock()
				delete(u.active, id)
				u.activeMu.Unlock()
				close(me.done)
			}, true
		}
		u.activeMu.Unlock()
		cur.stopping.Do(cur.interrupt)
		select {
		case <-cur.done:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// route runs inside tusd's middleware (tus version checks done).
func (u *Uploads) route(w http.ResponseWriter, r *http.Request) {
	id := strings.Trim(r.URL.Path, "/")
	if id == "" {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			plain(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		if r.Header.Get("Upload-Length") == "" && r.Header.Get("Upload-Defer-Length") != "" {
			// tusd would answer 501; say what the client can do instead.
			plain(w, http.StatusBadRequest, "the upload size must be given when the upload starts (Upload-Length)")
			return
		}
		u.tus.PostFile(w, r)
		return
	}
	switch r.Method {
	case http.MethodHead, http.MethodPatch, http.MethodDelete:
	default:
		w.Header().Set("Allow", "HEAD, PATCH, DELETE")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	userID, _ := r.Context().Value(userKey{}).(string)
	if err := validID(id); err != nil {
		plain(w, http.StatusNotFound, "upload not found")
		return
	}
	owner, err := u.owner(r.Context(), id)
	if errors.Is(err, handler.ErrNotFound) || (err == nil && owner != userID) {
		// Someone else's upload looks exactly like a missing one.
		plain(w, http.StatusNotFound, "upload not found")
		return
	}
	if err != nil {
		u.log.ErrorContext(r.Context(), "Upload lookup failed", "upload_id", id, "error", err)
		plain(w, http.StatusInternalServerError, "upload lookup failed")
		return
	}
	switch r.Method {
	case http.MethodHead:
		u.tus.HeadFile(w, r)
	case http.MethodPatch:
		u.tus.PatchFile(w, r)
	case http.MethodDelete:
		u.tus.DelFile(w, r)
		u.owners.forget(id)
	}
}

// owner returns the creator of an upload. Owners never change, so they are
// cached to spare a storage read on every PATCH.
func (u *Uploads) owner(ctx context.Context, id string) (string, error) {
	if o, ok := u.owners.get(id); ok {
		return o, nil
	}
	up, err := u.core.GetUpload(ctx, id)
	if err != nil {
		return "", err
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return "", err
	}
	o := info.MetaData[ownerKey]
	u.owners.put(id, o)
	return o, nil
}

// ownerCache is a bounded map; when full it starts over, which only costs
// re-reading owners from storage.
type ownerCache struct {
	mu sync.Mutex
	m  map[string]string
}

const ownerCacheMax = 4096

func (c *ownerCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.m[id]
	return o, ok
}

func (c *ownerCache) put(id, owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= ownerCacheMax {
		c.m = map[string]string{}
	}
	c.m[id] = owner
}

func (c *ownerCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// preCreate validates a new upload and records its owner.
func (u *Uploads) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	userID, _ := hook.Context.Value(userKey{}).(string)
	if userID == "" {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, handler.NewError("ERR_UNAUTHORIZED", "sign in to upload", http.StatusUnauthorized)
	}
	if hook.Upload.SizeIsDeferred {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, handler.NewError("ERR_LENGTH_REQUIRED", "the upload size must be given when the upload starts (Upload-Length)", http.StatusBadRequest)
	}
	meta := clientMeta(hook.Upload.MetaData)
	if err := u.cfg.Validate(hook.Context, userID, meta, hook.Upload.Size); err != nil {
		return handler.HTTPResponse{}, handler.FileInfoChanges{}, rejection(err)
	}
	stored := make(handler.MetaData, len(meta)+1)
	for k, v := range meta {
		stored[k] = v
	}
	stored[ownerKey] = userID
	return handler.HTTPResponse{}, handler.FileInfoChanges{MetaData: stored}, nil
}

// clientMeta is the metadata as the client sent it, minus our own entry.
func clientMeta(m handler.MetaData) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != ownerKey {
			out[k] = v
		}
	}
	return out
}

// rejection turns a Validate error into a tus error response carrying the
// message for the person uploading.
func rejection(err error) error {
	status, code := http.StatusBadRequest, "invalid_upload"
	switch {
	case errors.Is(err, apperr.ErrTooLarge):
		status, code = http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, apperr.ErrUnsupported):
		status, code = http.StatusUnsupportedMediaType, "unsupported_media_type"
	case errors.Is(err, apperr.ErrInsufficientStorage):
		status, code = http.StatusInsufficientStorage, "insufficient_storage"
	case errors.Is(err, apperr.ErrForbidden):
		status, code = http.StatusForbidden, "forbidden"
	case errors.Is(err, apperr.ErrUnauthorized):
		status, code = http.StatusUnauthorized, "unauthorized"
	}
	msg := err.Error()
	var ae *apperr.Error
	if errors.As(err, &ae) {
		if ae.Code != "" {
			code = ae.Code
		}
		msg = ae.Message
	}
	return handler.NewError(code, msg, status)
}

// preFinish queues a finished upload for hashing and delivery. It waits for
// room in the queue (back-pressure on the finishing request) but never past
// Close: an upload not queued then is recovered by the next start.
func (u *Uploads) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	select {
	case u.queue <- hook.Upload.ID:
	case <-u.stop:
	case <-hook.Context.Done():
	}
	return handler.HTTPResponse{}, nil
}

// Close stops the completion workers, cancelling any hashing or Completed
// call in progress (it will be retried on the next start). The handler
// keeps serving tus requests; stop the HTTP server first.
func (u *Uploads) Close() error {
	u.closeOne.Do(func() {
		close(u.stop)
		u.cancel()
		u.wg.Wait()
	})
	return nil
}
