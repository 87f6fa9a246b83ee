package policy

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/httpx"
)

// Handler serves the policy: admins read and change it, everyone signed in
// reads its public part.
type Handler struct {
	store *Store
	audit audit.Recorder
	// RunRetention applies the retention policy now and returns its report
	// (the media package's); nil refuses the request.
	RunRetention func(ctx context.Context) (any, error)
	// Changed is called after the policy was saved (the server tells live
	// rooms to check access again); may be nil.
	Changed func(ctx context.Context)
}

// NewHandler returns the policy handler; rec may be audit.Nop{}.
func NewHandler(store *Store, rec audit.Recorder) *Handler {
	return &Handler{store: store, audit: rec}
}

// Routes registers the policy routes on g (mounted at /api/v1).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/privacy/policy", h.public)
	g.GET("/admin/privacy", h.get)
	g.PUT("/admin/privacy", h.put)
	g.POST("/admin/privacy/retention/run", h.run)
}

func requireAdmin(c echo.Context) (accounts.Actor, error) {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return a, err
	}
	if !a.Admin {
		return a, apperr.Forbidden("only site admins can change the privacy policy")
	}
	return a, nil
}

func (h *Handler) public(c echo.Context) error {
	if _, err := accounts.RequireActor(c); err != nil {
		return err
	}
	p, err := h.store.Current(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"policy": p.Public()})
}

func (h *Handler) get(c echo.Context) error {
	if _, err := requireAdmin(c); err != nil {
		return err
	}
	p, err := h.store.Fresh(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"policy": p})
}

func (h *Handler) put(c echo.Context) error {
	a, err := requireAdmin(c)
	if err != nil {
		return err
	}
	var in Policy
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	before, err := h.store.Fresh(ctx)
	if err != nil {
		return err
	}
	in.UpdatedAt, in.UpdatedBy = nil, ""
	after, err := h.store.Save(ctx, in, a.UserID)
	if err != nil {
		return err
	}
	if d := Diff(before, after); d != "" {
		if err := h.audit.Record(context.WithoutCancel(ctx), audit.Event{At: *after.UpdatedAt, ActorID: a.UserID,
			Action: audit.SettingsChanged, Subject: "privacy policy", Detail: d, Address: audit.AddressFrom(ctx)}); err != nil {
			c.Logger().Errorf("record privacy policy change: %v", err)
		}
	}
	if h.Changed != nil {
		h.Changed(ctx)
	}
	return c.JSON(http.StatusOK, map[string]any{"policy": after})
}

func (h *Handler) run(c echo.Context) error {
	if _, err := requireAdmin(c); err != nil {
		return err
	}
	if h.RunRetention == nil {
		return apperr.New(apperr.ErrConflict, "retention_unavailable", "this node cannot run the retention job")
	}
	report, err := h.RunRetention(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, report)
}

// Diff describes what changed from a to b, for the audit log ("" when
// nothing did).
func Diff(a, b Policy) string {
	var out []string
	add := func(name string, x, y any) {
		if x != y {
			out = append(out, fmt.Sprintf("%s: %v → %v", name, x, y))
		}
	}
	add("require_consent", a.RequireConsent, b.RequireConsent)
	add("downloads_allowed", a.DownloadsAllowed, b.DownloadsAllowed)
	add("retention.mode", a.Retention.Mode, b.Retention.Mode)
	add("retention.days", a.Retention.Days, b.Retention.Days)
	add("retention.date", a.Retention.Date, b.Retention.Date)
	add("retention.warn_days", a.Retention.WarnDays, b.Retention.WarnDays)
	add("retention.allow_keep", a.Retention.AllowKeep, b.Retention.AllowKeep)
	add("retention.max_keep_days", a.Retention.MaxKeepDays, b.Retention.MaxKeepDays)
	return strings.Join(out, "; ")
}
