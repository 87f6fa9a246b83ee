package annotations

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
)

// Request body limits. An annotation body may be 10,000 characters (up to
// 40 KB of UTF-8, more once JSON-escaped); bodies up to maxJSON are read so
// that an over-long text gets a precise "body is N characters long" error
// instead of a generic "request too large".
const (
	maxJSON   = 4 << 20
	maxImport = 16 << 20
)

// Handler serves the annotations API under /api/v1.
type Handler struct {
	S *Service
}

// NewHandler returns the HTTP handler over s.
func NewHandler(s *Service) *Handler { return &Handler{S: s} }

// Routes registers every annotations route on g (mounted at /api/v1,
// behind the authentication middleware).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/clips/:id/annotations", h.list)
	g.POST("/clips/:id/annotations", h.create)
	g.GET("/clips/:id/annotations/export", h.export)
	g.POST("/clips/:id/annotations/import", h.importAnnotations)
	g.GET("/clips/:id/annotations/:aid", h.get)
	g.PATCH("/clips/:id/annotations/:aid", h.update)
	g.DELETE("/clips/:id/annotations/:aid", h.delete)
	g.POST("/clips/:id/annotations/:aid/restore", h.restore)
	g.GET("/clips/:id/annotations/:aid/history", h.history)
	g.POST("/clips/:id/annotations/:aid/replies", h.createReply)
	g.PATCH("/clips/:id/annotations/:aid/replies/:rid", h.updateReply)
	g.DELETE("/clips/:id/annotations/:aid/replies/:rid", h.deleteReply)
	g.GET("/clips/:id/summary", h.summary)
	g.GET("/clips/:id/reflection", h.getReflection)
	g.PUT("/clips/:id/reflection", h.putReflection)
	g.POST("/clips/:id/reflection/submit", h.submitReflection)
	g.GET("/users/:uid/growth", h.growth)
	g.GET("/rubrics", h.listRubrics)
	g.POST("/rubrics", h.createRubric)
	g.POST("/rubrics/import", h.importRubric)
	g.GET("/rubrics/:rid", h.getRubric)
	g.PUT("/rubrics/:rid", h.updateRubric)
	g.DELETE("/rubrics/:rid", h.archiveRubric)
	g.GET("/rubrics/:rid/export", h.exportRubric)
	g.GET("/goals", h.listGoals)
	g.POST("/goals", h.createGoal)
	g.GET("/goals/:gid", h.getGoal)
	g.PATCH("/goals/:gid", h.updateGoal)
	g.POST("/goals/:gid/evidence", h.addEvidence)
	g.GET("/search/annotations", h.search)
}

// actor returns the signed-in person. It also answers "not found" at once
// for path IDs that no ID made by this server looks like (bytes such as
// NUL would otherwise reach the database).
func actor(c echo.Context) (accounts.Actor, error) {
	a, ok := accounts.ActorFrom(c.Request().Context())
	if !ok {
		return a, errUnauthorized
	}
	for _, p := range []struct{ name, what string }{{"id", "clip"}, {"aid", "annotation"}, {"rid", "rubric or reply"}, {"gid", "goal"}, {"uid", "user"}} {
		if v := c.Param(p.name); v != "" && (len(v) > 64 || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00/")) {
			return a, apperr.NotFound(p.what)
		}
	}
	return a, nil
}

// readBody reads at most limit bytes and refuses invalid UTF-8 (encoding/
// json would silently replace it with U+FFFD).
func readBody(c echo.Context, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, limit))
	if err != nil {
		if _, ok := err.(*http.MaxBytesError); ok {
			return nil, apperr.New(apperr.ErrTooLarge, "body_too_large", "the request body is larger than "+strconv.FormatInt(limit, 10)+" bytes")
		}
		return nil, apperr.New(nil, "unreadable_body", "the request body could not be read")
	}
	if !utf8.Valid(body) {
		return nil, apperr.New(nil, "invalid_utf8", "the request body is not valid UTF-8 text")
	}
	return body, nil
}

func bind(c echo.Context, v any) error {
	if ct := c.Request().Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return apperr.New(apperr.ErrUnsupported, "unsupported_media_type", "send the request body as JSON (Content-Type: application/json)")
	}
	body, err := readBody(c, maxJSON)
	if err != nil {
		return err
	}
	return httpx.DecodeJSON(bytes.NewReader(body), v, maxJSON)
}

func queryInt64(c echo.Context, name string) (*int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, apperr.Invalid(name, "must be a whole number of milliseconds")
	}
	return &n, nil
}

func queryList(c echo.Context, name string) []string {
	var out []string
	for _, v := range c.QueryParams()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (h *Handler) list(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var lq ListQuery
	if lq.FromMS, err = queryInt64(c, "from_ms"); err != nil {
		return err
	}
	if lq.ToMS, err = queryInt64(c, "to_ms"); err != nil {
		return err
	}
	if l := c.QueryParam("limit"); l != "" {
		if lq.Limit, err = strconv.Atoi(l); err != nil || lq.Limit < 1 {
			return apperr.Invalid("limit", "must be a number from 1 to %d", MaxPageSize)
		}
	}
	lq.Criterion, lq.AuthorID, lq.Tag = c.QueryParam("criterion"), c.QueryParam("author"), c.QueryParam("tag")
	lq.Visibility, lq.Kind, lq.Text, lq.Cursor = c.QueryParam("visibility"), c.QueryParam("kind"), c.QueryParam("q"), c.QueryParam("cursor")
	if pretty(c) {
		page, err := h.S.List(c.Request().Context(), a, c.Param("id"), lq)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, page)
	}
	v, err := h.S.ListView(c.Request().Context(), a, c.Param("id"), lq)
	if err != nil {
		return err
	}
	return sendView(c, v)
}

// pretty reports whether echo would indent the JSON (?pretty or debug
// mode); the cached views hold the compact encoding only.
func pretty(c echo.Context) bool {
	_, ok := c.QueryParams()["pretty"]
	return ok || c.Echo().Debug
}

// sendView answers with a cached view, or 304 Not Modified when the
// client already holds it. The ETag is per viewer scope, so the response
// is private to the viewer; no-cache makes browsers revalidate every time
// (a change shows at once) while a revalidation costs no body.
//
// A client that accepts gzip gets the view's cached compressed body; the
// server leaves these routes out of its compression middleware
// (ServesCompressed).
func sendView(c echo.Context, v View) error {
	hd := c.Response().Header()
	hd.Set("ETag", v.ETag)
	hd.Set("Cache-Control", "private, no-cache")
	hd.Add("Vary", "Accept-Encoding")
	if ETagMatches(c.Request().Header.Get("If-None-Match"), v.ETag) {
		return c.NoContent(http.StatusNotModified)
	}
	if len(v.Body) >= minGzipBytes && acceptsGzip(c.Request().Header.Values("Accept-Encoding")) {
		hd.Set(echo.HeaderContentEncoding, "gzip")
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, v.Gzipped())
	}
	return c.JSONBlob(http.StatusOK, v.Body)
}

// minGzipBytes is the size below which a view is sent as it is (the
// server's middleware uses the same bound).
const minGzipBytes = 1024

// ServesCompressed reports whether a request goes to a route that
// compresses its own answers (the cached views), so that the server's
// compression middleware must leave it alone.
func ServesCompressed(method, path string) bool {
	if method != http.MethodGet || !strings.HasPrefix(path, "/api/v1/clips/") {
		return false
	}
	rest := strings.TrimPrefix(path, "/api/v1/clips/")
	i := strings.IndexByte(rest, '/')
	return i > 0 && (rest[i:] == "/annotations" || rest[i:] == "/summary")
}

// acceptsGzip reports whether Accept-Encoding values allow gzip: listed
// without q=0, or not listed and "*" allowed.
func acceptsGzip(values []string) bool {
	star := false
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			allowed := true
			if q, ok := strings.CutPrefix(strings.ReplaceAll(strings.ToLower(params), " ", ""), "q="); ok {
				f, err := strconv.ParseFloat(q, 64)
				allowed = err == nil && f > 0
			}
			switch name {
			case "gzip", "x-gzip":
				return allowed
			case "*":
				star = allowed
			}
		}
	}
	return star
}

func (h *Handler) create(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in AnnotationInput
	if err := bind(c, &in); err != nil {
		return err
	}
	if k := c.Request().Header.Get("Idempotency-Key"); k != "" && in.IdempotencyKey == "" {
		in.IdempotencyKey = k
	}
	ann, created, err := h.S.Create(c.Request().Context(), a, c.Param("id"), in)
	if err != nil {
		return err
	}
	if created {
		return c.JSON(http.StatusCreated, ann)
	}
	return c.JSON(http.StatusOK, ann)
}

func (h *Handler) get(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	ann, err := h.S.Get(c.Request().Context(), a, c.Param("id"), c.Param("aid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ann)
}

func (h *Handler) update(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var p AnnotationPatch
	if err := bind(c, &p); err != nil {
		return err
	}
	ann, err := h.S.Update(c.Request().Context(), a, c.Param("id"), c.Param("aid"), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ann)
}

func (h *Handler) delete(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	ann, err := h.S.Delete(c.Request().Context(), a, c.Param("id"), c.Param("aid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ann)
}

func (h *Handler) restore(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	ann, err := h.S.Restore(c.Request().Context(), a, c.Param("id"), c.Param("aid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ann)
}

func (h *Handler) history(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	revs, err := h.S.History(c.Request().Context(), a, c.Param("id"), c.Param("aid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"revisions": revs})
}

func (h *Handler) createReply(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in ReplyInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := h.S.CreateReply(c.Request().Context(), a, c.Param("id"), c.Param("aid"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (h *Handler) updateReply(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in ReplyInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := h.S.UpdateReply(c.Request().Context(), a, c.Param("id"), c.Param("aid"), c.Param("rid"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (h *Handler) deleteReply(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	r, err := h.S.DeleteReply(c.Request().Context(), a, c.Param("id"), c.Param("aid"), c.Param("rid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (h *Handler) addEvidence(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in EvidenceInput
	if err := bind(c, &in); err != nil {
		return err
	}
	g, err := h.S.AddEvidence(c.Request().Context(), a, c.Param("gid"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, g)
}

func (h *Handler) search(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	limit := 0
	if l := c.QueryParam("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 1 {
			return apperr.Invalid("limit", "must be a number from 1 to %d", MaxPageSize)
		}
	}
	items, truncated, err := h.S.Search(c.Request().Context(), a, c.QueryParam("q"), c.QueryParam("clip_id"), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": items, "truncated": truncated})
}
