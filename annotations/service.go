package annotations

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// ClipInfo is what annotations needs to know about a clip.
type ClipInfo struct {
	ID         string
	OwnerID    string
	Title      string
	DurationMS int64
	RubricID   string
	// ReflectFirst is true when the clip or its group asks the owner to
	// reflect before seeing others' feedback.
	ReflectFirst bool
	GroupIDs     []string
	CreatedAt    time.Time
}

// Clips is the clip boundary: media owns clips and the audience rules, and
// annotations asks it before every read or write.
type Clips interface {
	// Authorize returns the clip when actor may do act on it; an apperr
	// NotFound when the clip does not exist OR the actor may not view it;
	// apperr Forbidden when they may view but not do act.
	Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) (ClipInfo, error)
	// VisibleOwnedBy lists clips owned by ownerID that actor may view (for
	// growth over time), oldest first.
	VisibleOwnedBy(ctx context.Context, a accounts.Actor, ownerID string) ([]ClipInfo, error)
}

// Publisher receives every event after its transaction commits (the live
// rooms implement it). It must not block for long: it runs on the request.
type Publisher interface {
	Publish(ctx context.Context, e Event)
}

// Config is what a Service needs.
type Config struct {
	DB    *sqldb.DB
	Clips Clips
	// Publisher may be nil (no live rooms, e.g. in the import tool).
	Publisher Publisher
	Logger    *slog.Logger
	// Now is the clock; nil means time.Now. Tests swap it.
	Now func() time.Time
	// ViewCacheBytes bounds the cache of encoded pages and summaries
	// (see ListView); 0 means DefaultViewCacheBytes, negative turns the
	// cache off (every read queries the database).
	ViewCacheBytes int64
}

// Service is the one implementation of every annotations operation; the
// REST handlers and the websocket layer both call it, so both paths apply
// the same validation, authorization and events.
type Service struct {
	db    *sqldb.DB
	clips Clips
	pub   Publisher
	log   *slog.Logger
	now   func() time.Time

	// versions caches immutable rubric versions (a version never changes
	// once written, so the cache needs no invalidation, only a bound).
	mu       sync.Mutex
	versions map[versionKey]*Rubric

	// views caches encoded reads by clip seq and visibility scope.
	views *viewCache
}

type versionKey struct {
	id      string
	version int
}

// maxCachedVersions bounds the rubric version cache.
const maxCachedVersions = 512

// New returns a Service.
func New(cfg Config) *Service {
	s := &Service{db: cfg.DB, clips: cfg.Clips, pub: cfg.Publisher, log: cfg.Logger, now: cfg.Now,
		versions: map[versionKey]*Rubric{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case cfg.ViewCacheBytes == 0:
		s.views = newViewCache(DefaultViewCacheBytes)
	case cfg.ViewCacheBytes > 0:
		s.views = newViewCache(cfg.ViewCacheBytes)
	}
	return s
}

func (s *Service) clock() time.Time { return s.now().UTC() }

// publish hands committed events to the live rooms.
func (s *Service) publish(ctx context.Context, evs ...Event) {
	if s.pub == nil {
		return
	}
	for _, e := range evs {
		s.pub.Publish(ctx, e)
	}
}

// errUnauthorized is returned when no person is signed in.
var errUnauthorized = apperr.New(apperr.ErrUnauthorized, "unauthorized", "please sign in")

func requireActor(a accounts.Actor) error {
	if a.UserID == "" {
		return errUnauthorized
	}
	return nil
}

// isNotFound reports whether err is a not-found of any origin.
func isNotFound(err error) bool { return errors.Is(err, apperr.ErrNotFound) }
