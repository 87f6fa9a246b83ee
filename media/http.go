package media

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/media/storage"
)

// Handler serves the clip API and the clips' media.
type Handler struct {
	clips    *Clips
	store    storage.Store
	captions *Captions
	// MasterDecorator may append to a clip's master playlist (the captions
	// step adds its subtitles group there).
	MasterDecorator func(ctx context.Context, clipID string, master *bytes.Buffer)
	// captionJob makes automatic captions again on request; nil when this
	// handler has no job queue (then that request is refused).
	captionJob *CaptionJob
	// signer signs the segment URLs of playlists (nil: segments are
	// fetched with the session, as every other request).
	signer *URLSigner
	// linkTTL is how long a signed URL works beyond its clip's length.
	linkTTL time.Duration
	// redactions serves the redaction routes (redaction.go); nil answers
	// 503 there.
	redactions *Redactions
}

// UseSigner makes playlists hand out signed segment URLs that work for the
// clip's length plus ttl, and only while their user may view the clip.
func (h *Handler) UseSigner(s *URLSigner, ttl time.Duration) {
	h.signer, h.linkTTL = s, ttl
}

// NewHandler returns the clip API handler. Caption tracks are added to
// master playlists unless MasterDecorator is replaced.
func NewHandler(clips *Clips, store storage.Store) *Handler {
	h := &Handler{clips: clips, store: store, captions: NewCaptions(clips, store)}
	h.MasterDecorator = h.captions.DecorateMaster
	return h
}

// UseCaptionJob shares the node's caption store and job with the handler,
// so that changes made over HTTP reach the same change hook as the job's
// and owners can ask for automatic captions again.
func (h *Handler) UseCaptionJob(j *CaptionJob) {
	h.captionJob, h.captions = j, j.Captions
	h.MasterDecorator = j.Captions.DecorateMaster
}

// Routes registers the clip routes on g (mounted at /api/v1).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/clips", h.list)
	g.GET("/clips/:id", h.get)
	g.PATCH("/clips/:id", h.update)
	g.PUT("/clips/:id/audience", h.setAudience)
	g.DELETE("/clips/:id", h.delete)
	g.GET("/clips/:id/media/*", h.serveMedia)
	g.GET("/clips/:id/download", h.download)
	g.PUT("/clips/:id/privacy", h.setPrivacy)
	g.POST("/clips/:id/keep", h.keep)
	h.captionRoutes(g)
	h.redactionRoutes(g)
}

func (h *Handler) list(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	clips, err := h.clips.List(c.Request().Context(), a, Scope(c.QueryParam("scope")), c.QueryParam("group_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clips": clips})
}

func (h *Handler) get(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	clip, err := h.clips.Authorize(c.Request().Context(), a, accounts.ClipView, c.Param("id"))
	if err != nil {
		return err
	}
	h.clips.Viewed(c.Request().Context(), a, clip)
	return c.JSON(http.StatusOK, map[string]any{"clip": clip})
}

func (h *Handler) update(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	var p ClipPatch
	if err := httpx.Bind(c, &p); err != nil {
		return err
	}
	clip, err := h.clips.Update(c.Request().Context(), a, c.Param("id"), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clip": clip})
}

func (h *Handler) setAudience(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	var in AudienceInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	clip, err := h.clips.SetAudience(c.Request().Context(), a, c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clip": clip})
}

func (h *Handler) delete(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	if err := h.clips.Delete(c.Request().Context(), a, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) setPrivacy(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	var in PrivacyInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	clip, err := h.clips.SetPrivacy(c.Request().Context(), a, c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clip": clip})
}

func (h *Handler) keep(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	var in KeepInput
	if c.Request().ContentLength != 0 {
		if err := httpx.Bind(c, &in); err != nil {
			return err
		}
	}
	clip, err := h.clips.Keep(c.Request().Context(), a, c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"clip": clip})
}
