package export

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/httpx"
)

// Handler serves the export and account-deletion routes.
type Handler struct {
	x *Exporter
}

// NewHandler returns the HTTP side of x.
func NewHandler(x *Exporter) *Handler { return &Handler{x: x} }

// Routes mounts the routes on the API group (which authenticates, and
// whose token policy in accounts/scope.go keeps read and upload tokens off
// the export and every token off the account deletion).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/me/export", h.export)
	g.DELETE("/me", h.deleteAccount)
}

func (h *Handler) export(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := h.x.recorder().Record(ctx, audit.Event{At: h.x.d.Now(), ActorID: a.UserID, Action: audit.AccountExport,
		Subject: a.UserID, Detail: "format=zip", Address: audit.AddressFrom(ctx)}); err != nil {
		h.x.d.Log.Error("Could not record a data export in the audit log.", "user_id", a.UserID, "error", err)
	}
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "application/zip")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="filmroom-export-`+h.x.d.Now().UTC().Format("2006-01-02")+`.zip"`)
	res.WriteHeader(http.StatusOK)
	if err := h.x.Write(ctx, a, res); err != nil {
		// The status is sent; the archive ends with export-error.txt.
		return nil
	}
	h.x.d.Log.Info("Data exported.", "user_id", a.UserID, "bytes", res.Size)
	return nil
}

func (h *Handler) deleteAccount(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	if a.Via != "session" {
		return apperr.New(apperr.ErrForbidden, "session_required", "delete your account in the web app, signed in with your password; API tokens cannot do it")
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if err := h.x.DeleteAccount(c.Request().Context(), a, in.Password); err != nil {
		return err
	}
	// Every session is gone; the browser forgets its cookies too.
	for _, name := range []string{accounts.SessionCookie, accounts.CSRFCookie} {
		c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == accounts.SessionCookie,
			Secure: h.x.d.SecureCookies || c.IsTLS(), SameSite: http.SameSiteLaxMode})
	}
	return c.NoContent(http.StatusNoContent)
}
