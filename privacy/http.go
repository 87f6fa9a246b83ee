package privacy

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
)

// ClipAccess answers nil when the actor may read the audit log of the clip
// (its owner, or a site admin), else the error to answer: "not found" for
// a clip the actor may not see, as every clip route does. The server
// passes it, so that privacy need not import media.
type ClipAccess func(ctx context.Context, a accounts.Actor, clipID string) error

// Handler serves the audit log.
type Handler struct {
	log        *Log
	clipAccess ClipAccess
}

// NewHandler returns the audit log's HTTP handler.
func NewHandler(l *Log, clipAccess ClipAccess) *Handler {
	return &Handler{log: l, clipAccess: clipAccess}
}

// Routes registers the audit routes on g (mounted at /api/v1).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/clips/:id/audit", h.clipLog)
	g.GET("/me/audit", h.myLog)
	g.GET("/admin/audit", h.siteLog)
}

// clipLog is one clip's log, for its owner and admins.
func (h *Handler) clipLog(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	clipID := c.Param("id")
	if err := h.clipAccess(c.Request().Context(), a, clipID); err != nil {
		return err
	}
	f, err := filterFrom(c)
	if err != nil {
		return err
	}
	f.ClipID = clipID
	return h.answer(c, f, a.Admin, "clip-"+clipID)
}

// myLog is the log of every clip the actor owns or owned.
func (h *Handler) myLog(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	f, err := filterFrom(c)
	if err != nil {
		return err
	}
	f.ClipID = c.QueryParam("clip_id")
	f.OwnerID = a.UserID
	return h.answer(c, f, a.Admin, "my-clips")
}

// siteLog is the whole site's log, for admins.
func (h *Handler) siteLog(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	if !a.Admin {
		return apperr.Forbidden("only site admins can read the site's audit log")
	}
	f, err := filterFrom(c)
	if err != nil {
		return err
	}
	f.ClipID, f.OwnerID = c.QueryParam("clip_id"), c.QueryParam("owner_id")
	return h.answer(c, f, true, "site")
}

// wantsCSV: ?format=csv, or an Accept header that asks for CSV first.
func wantsCSV(c echo.Context) (bool, error) {
	switch c.QueryParam("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
	default:
		return false, apperr.Invalid("format", "choose json or csv")
	}
	accept := strings.ToLower(c.Request().Header.Get(echo.HeaderAccept))
	return strings.HasPrefix(strings.TrimSpace(accept), "text/csv"), nil
}

func (h *Handler) answer(c echo.Context, f Filter, withAddress bool, name string) error {
	asCSV, err := wantsCSV(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !asCSV {
		p, err := h.log.List(ctx, f)
		if err != nil {
			return err
		}
		if !withAddress {
			for i := range p.Entries {
				p.Entries[i].Address = ""
			}
		}
		return c.JSON(http.StatusOK, p)
	}
	// Check the filter before the first byte: an error after it could not
	// be answered as JSON any more.
	if _, err := h.log.List(ctx, Filter{ClipID: f.ClipID, OwnerID: f.OwnerID, ActorID: f.ActorID, Action: f.Action,
		Since: f.Since, Until: f.Until, After: f.After, Limit: 1}); err != nil {
		return err
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="filmroom-audit-%s-%s.csv"`, name, h.log.now().UTC().Format("20060102")))
	res.WriteHeader(http.StatusOK)
	return h.log.WriteCSV(ctx, res, f, withAddress)
}

// filterFrom reads the filters every audit route shares.
func filterFrom(c echo.Context) (Filter, error) {
	f := Filter{ActorID: c.QueryParam("actor_id"), Action: audit.Action(c.QueryParam("action")), After: c.QueryParam("after")}
	if f.Action != "" && !actionPattern.MatchString(string(f.Action)) {
		return f, apperr.Invalid("action", "is not an audit action such as clip.view")
	}
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := c.QueryParam(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return f, apperr.Invalid(p.name, "is not a time like 2026-09-01T00:00:00Z")
			}
			*p.into = t
		}
	}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPage {
			return f, apperr.Invalid("limit", "must be a number from 1 to %d", MaxPage)
		}
		f.Limit = n
	}
	return f, nil
}
