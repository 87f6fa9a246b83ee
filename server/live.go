package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
)

// clipAuthorizer answers the live rooms' access questions with the clip
// policy.
type clipAuthorizer struct{ clips *media.Clips }

func (z clipAuthorizer) Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) error {
	_, err := z.clips.Authorize(ctx, a, act, clipID)
	return err
}

// feedbackGate tells the live rooms when reflect-first hides others'
// feedback from a viewer, by the annotations service's rule.
type feedbackGate struct {
	svc   *annotations.Service
	clips clipDirectory
}

func (g feedbackGate) HidesFeedback(ctx context.Context, a accounts.Actor, clipID string) (bool, error) {
	info, err := g.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return false, err
	}
	return g.svc.HidesFeedback(ctx, a, info)
}

// liveParts are the annotations service and the live rooms of a node.
type liveParts struct {
	annotations *annotations.Service
	hub         *live.Hub
	bus         live.Bus
	nc          *nats.Conn
}

// newLive builds the event bus (NATS when configured, else in-process),
// the annotations service and the hub, which publish to each other.
func newLive(ctx context.Context, cfg Config, db *sqldb.DB, acc *accounts.Service, clips *media.Clips, log *slog.Logger, now func() time.Time) (*liveParts, error) {
	lp := &liveParts{}
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("filmroom"), nats.MaxReconnects(-1), nats.Timeout(10*time.Second))
		if err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
		}
		lp.nc, lp.bus = nc, bus.NewNATS(nc)
	} else {
		lp.bus = bus.NewMemory()
	}
	// The hub and the annotations service publish to each other: the
	// socket's annotator gets its service once both exist.
	ann := &annotations.JSONAnnotator{}
	gate := &feedbackGate{clips: clipDirectory{clips: clips}}
	hub, err := live.New(live.Config{
		AllowedOrigins: cfg.Origins(), Log: log, Now: now,
		PingInterval: cfg.LivePingInterval, PongWait: cfg.LivePongWait, AccessCheckInterval: cfg.LiveAccessCheck,
		MaxConnsPerUser: cfg.LiveMaxConnsPerUser, UserRatePerSecond: float64(cfg.LiveUserRate), UserRateBurst: 2 * cfg.LiveUserRate,
	}, live.Deps{DB: db, Bus: lp.bus, Authz: clipAuthorizer{clips: clips}, Annotator: ann, Feedback: gate, Credentials: acc})
	if err != nil {
		lp.closeBus()
		return nil, err
	}
	lp.hub = hub
	// Accounts and media report every change that may take access away
	// (sign-out, password, tokens, groups, audiences, deleted clips); the
	// hub re-authorizes the sockets concerned on every node.
	acc.OnAccessChange = hub.AccessChanged
	lp.annotations = annotations.New(annotations.Config{DB: db, Clips: clipDirectory{clips: clips}, Publisher: hub, Logger: log, Now: now})
	ann.S, gate.svc = lp.annotations, lp.annotations
	if err := lp.annotations.SeedStarterRubrics(ctx); err != nil {
		_ = lp.close(ctx)
		return nil, fmt.Errorf("seed starter rubrics: %w", err)
	}
	// Annotations written before rendered bodies were stored get theirs
	// now; until then they are rendered on read, which is correct but slow.
	if n, err := lp.annotations.BackfillBodyHTML(ctx); err != nil {
		log.Warn("Could not store rendered annotation bodies; they are rendered on read.", "error", err)
	} else if n > 0 {
		log.Info("Stored rendered annotation bodies.", "count", n)
	}
	return lp, nil
}

func (lp *liveParts) closeBus() {
	if lp.bus != nil {
		_ = lp.bus.Close()
	}
	if lp.nc != nil {
		lp.nc.Close()
	}
}

// close disconnects live clients (1001, going away) before the bus closes.
func (lp *liveParts) close(context.Context) error {
	var err error
	if lp.hub != nil {
		err = lp.hub.Close()
	}
	lp.closeBus()
	return err
}
