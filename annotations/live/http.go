package live

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
)

// Handler serves the live endpoints of a Hub.
type Handler struct {
	hub      *Hub
	upgrader websocket.Upgrader
	origins  map[string]bool
}

// NewHandler returns the HTTP side of hub.
func NewHandler(hub *Hub) *Handler {
	h := &Handler{hub: hub, origins: map[string]bool{}}
	for _, o := range hub.cfg.AllowedOrigins {
		h.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	h.upgrader = websocket.Upgrader{
		// Each connection keeps its read buffer for life, so it is small:
		// client messages are small, and a larger one is read past the
		// buffer straight into the message (1 KiB instead of 4 KiB saves
		// 3 KiB per idle connection).
		ReadBufferSize:  1 << 10,
		WriteBufferSize: 4 << 10,
		// Idle connections (most of them) hold no write buffer: a writer
		// takes one from the pool for each message and returns it.
		WriteBufferPool: &sync.Pool{},
		// The origin was checked before upgrading, with a JSON answer.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return h
}

// Routes mounts GET /clips/:id/live (the websocket) and GET
// /clips/:id/live/log (the session log export) on g. The actor must already
// be in the request context (the server's auth middleware puts it there).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/clips/:id/live", h.live)
	g.GET("/clips/:id/live/log", h.sessionLog)
}

// live authorizes, checks the origin and upgrades. Every refusal happens
// before the upgrade, as an ordinary JSON error: a clip one may not see is
// 404, like everywhere else.
func (h *Handler) live(c echo.Context) error {
	req := c.Request()
	// Read before authorizing: an access change from here on makes the
	// connection be re-checked once it is registered (see serve).
	gen := h.hub.accessGen.Load()
	actor, clipID, err := h.authorize(c, accounts.ClipView)
	if err != nil {
		return err
	}
	ctx := req.Context()
	caps := Member{UserID: actor.UserID, Name: actor.Name}
	caps.CanAnnotate = h.hub.authz.Authorize(ctx, actor, accounts.ClipAnnotate, clipID) == nil
	caps.CanHost = h.hub.authz.Authorize(ctx, actor, accounts.ClipHost, clipID) == nil
	// Decided once per connection: a teacher who submits their reflection
	// reconnects (the web app does) to start receiving others' feedback.
	hideOthers := false
	if h.hub.gate != nil {
		if hideOthers, err = h.hub.gate.HidesFeedback(ctx, actor, clipID); err != nil {
			return err
		}
	}
	if !websocket.IsWebSocketUpgrade(req) {
		return apperr.New(nil, "websocket_required", "this address speaks the live protocol over a websocket (see docs/live-protocol.md)")
	}
	if !h.originAllowed(req) {
		return apperr.Forbidden("this page's origin may not open a live connection")
	}
	var since *int64
	if s := c.QueryParam("since"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return apperr.Invalid("since", "must be a whole number of 0 or more")
		}
		since = &n
	}
	h.hub.mu.Lock()
	closed := h.hub.closed
	var user *userState
	reserved := false
	if !closed {
		if user, reserved = h.hub.reserveConnLocked(actor.UserID); reserved {
			h.hub.conns.Add(1)
		}
	}
	h.hub.mu.Unlock()
	if closed {
		return apperr.New(apperr.ErrGone, "shutting_down", "the server is shutting down; reconnect in a moment")
	}
	if !reserved {
		return apperr.New(apperr.ErrTooManyRequests, "too_many_connections",
			fmt.Sprintf("you have %d live connections open on this server already; close a tab or window first", h.hub.cfg.MaxConnsPerUser))
	}
	conn, err := h.upgrader.Upgrade(c.Response(), req, nil)
	if err != nil {
		h.hub.releaseConn(actor.UserID)
		h.hub.conns.Done()
		return nil // the upgrader has answered the request
	}
	// The connection runs on its own goroutine and the handler returns, so
	// net/http and echo release the request, its 8 KiB of buffers and the
	// handler's deep stack instead of holding them for the socket's life.
	go h.hub.serve(conn, actor, clipID, caps, since, hideOthers, user, gen)
	return nil
}

// sessionLog exports the sync commands of the clip as JSON, in seq order,
// in pages: ?after=<seq>&limit=<n> (default 1000, at most 10000).
func (h *Handler) sessionLog(c echo.Context) error {
	_, clipID, err := h.authorize(c, accounts.ClipView)
	if err != nil {
		return err
	}
	var after int64
	limit := 1000
	if s := c.QueryParam("after"); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return apperr.Invalid("after", "must be a whole number of 0 or more")
		}
	}
	if s := c.QueryParam("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 10000 {
			return apperr.Invalid("limit", "must be between 1 and 10000")
		}
	}
	entries, err := h.hub.synlog.list(c.Request().Context(), clipID, after, limit)
	if err != nil {
		return err
	}
	out := SessionLog{ClipID: clipID, Entries: entries}
	if len(entries) == limit {
		out.NextAfter = entries[len(entries)-1].Seq
	}
	return c.JSON(http.StatusOK, out)
}

// SessionLog is the export of a clip's synchronized sessions.
type SessionLog struct {
	ClipID  string            `json:"clip_id"`
	Entries []SessionLogEntry `json:"entries"`
	// NextAfter, when not zero, is the after of the next page.
	NextAfter int64 `json:"next_after,omitempty"`
}

func (h *Handler) authorize(c echo.Context, act accounts.Action) (accounts.Actor, string, error) {
	actor, ok := accounts.ActorFrom(c.Request().Context())
	if !ok {
		return actor, "", apperr.New(apperr.ErrUnauthorized, "unauthorized", "please sign in")
	}
	clipID := c.Param("id")
	if !id.Valid(clipID) {
		return actor, "", apperr.NotFound("clip")
	}
	if err := h.hub.authz.Authorize(c.Request().Context(), actor, act, clipID); err != nil {
		return actor, "", err
	}
	return actor, clipID, nil
}

// originAllowed accepts requests without Origin (not from a browser), from
// the server's own origin, and from the configured origins.
func (h *Handler) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return h.origins[strings.ToLower(strings.TrimRight(o, "/"))]
}
