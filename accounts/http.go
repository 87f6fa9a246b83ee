package accounts

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
)

// Cookie names. The CSRF cookie is readable by the web app, which echoes it
// in the X-CSRF-Token header; the session cookie is not.
const (
	SessionCookie = "filmroom_session"
	CSRFCookie    = "filmroom_csrf"
	CSRFHeader    = "X-CSRF-Token"
)

// Handler serves the accounts API.
type Handler struct {
	svc *Service
	// SecureCookies marks cookies Secure (when served over https).
	SecureCookies bool
	// BaseURL is the public address, for invitation links.
	BaseURL string
}

// NewHandler returns the accounts HTTP handler.
func NewHandler(svc *Service, baseURL string) *Handler {
	return &Handler{svc: svc, BaseURL: strings.TrimRight(baseURL, "/"), SecureCookies: strings.HasPrefix(baseURL, "https://")}
}

type sessionKey struct{}

type sessionInfo struct{ token, csrf string }

// Authenticate resolves the bearer token or session cookie into an Actor in
// the request context; it lets anonymous requests through (handlers decide),
// but rejects a cookie-authenticated change without the CSRF token, and a
// bad bearer token.
func (h *Handler) Authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := req.Context()
			if auth := req.Header.Get(echo.HeaderAuthorization); auth != "" {
				token, ok := strings.CutPrefix(auth, "Bearer ")
				if !ok {
					return apperr.New(apperr.ErrUnauthorized, "invalid_token", "use \"Authorization: Bearer <token>\" with a personal API token")
				}
				u, tokenID, err := h.svc.tokenUser(ctx, strings.TrimSpace(token))
				if err != nil {
					return apperr.New(apperr.ErrUnauthorized, "invalid_token", "this API token is not valid (it may have been revoked); create a new one on your account page")
				}
				a := u.Actor("token")
				a.Credential = tokenCredential(tokenID)
				c.SetRequest(req.WithContext(WithActor(ctx, a)))
				return next(c)
			}
			ck, err := req.Cookie(SessionCookie)
			if err != nil || ck.Value == "" {
				return next(c)
			}
			u, csrf, err := h.svc.SessionUser(ctx, ck.Value)
			if err != nil {
				// An expired or unknown cookie is treated as signed out.
				h.clearCookies(c)
				return next(c)
			}
			if !safeMethod(req.Method) {
				got := req.Header.Get(CSRFHeader)
				if subtle.ConstantTimeCompare([]byte(got), []byte(csrf)) != 1 {
					return apperr.New(apperr.ErrForbidden, "csrf_failed", "this request is missing its security token; reload the page and try again")
				}
			}
			a := u.Actor("session")
			a.Credential = sessionCredential(hashToken(ck.Value))
			ctx = context.WithValue(WithActor(ctx, a), sessionKey{}, sessionInfo{token: ck.Value, csrf: csrf})
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// RequireActor returns the signed-in actor or the "please sign in" error.
func RequireActor(c echo.Context) (Actor, error) {
	a, ok := ActorFrom(c.Request().Context())
	if !ok {
		return a, apperr.New(apperr.ErrUnauthorized, "unauthorized", "please sign in")
	}
	return a, nil
}

// Routes registers the accounts API on g (mounted at /api/v1).
func (h *Handler) Routes(g *echo.Group) {
	g.GET("/setup", h.setupStatus)
	g.POST("/setup", h.setup)
	g.POST("/auth/login", h.login)
	g.POST("/auth/logout", h.logout)
	g.GET("/me", h.me)
	g.POST("/me/password", h.changePassword)
	g.GET("/me/tokens", h.listTokens)
	g.POST("/me/tokens", h.createToken)
	g.DELETE("/me/tokens/:tid", h.deleteToken)
	g.GET("/users", h.listUsers)
	g.GET("/groups", h.listGroups)
	g.POST("/groups", h.createGroup)
	g.GET("/groups/:gid", h.getGroup)
	g.PATCH("/groups/:gid", h.updateGroup)
	g.DELETE("/groups/:gid", h.archiveGroup)
	g.POST("/groups/:gid/invitations", h.createInvitation)
	g.PATCH("/groups/:gid/members/:uid", h.setRole)
	g.DELETE("/groups/:gid/members/:uid", h.removeMember)
	g.GET("/invitations/:token", h.getInvitation)
	g.POST("/invitations/:token/accept", h.acceptInvitation)
}

func (h *Handler) setSessionCookies(c echo.Context, se Session) {
	maxAge := int(time.Until(se.ExpiresAt).Seconds())
	c.SetCookie(&http.Cookie{Name: SessionCookie, Value: se.Token, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode})
	c.SetCookie(&http.Cookie{Name: CSRFCookie, Value: se.CSRFToken, Path: "/", MaxAge: maxAge,
		Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode})
}

func (h *Handler) clearCookies(c echo.Context) {
	for _, name := range []string{SessionCookie, CSRFCookie} {
		c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == SessionCookie,
			Secure: h.SecureCookies, SameSite: http.SameSiteLaxMode})
	}
}

func (h *Handler) signIn(c echo.Context, u User) error {
	se, err := h.svc.CreateSession(c.Request().Context(), u.ID, c.Request().UserAgent())
	if err != nil {
		return err
	}
	h.setSessionCookies(c, se)
	return nil
}

func (h *Handler) setupStatus(c echo.Context) error {
	n, err := h.svc.UserCount(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"needed": n == 0})
}

func (h *Handler) setup(c echo.Context) error {
	var in NewUser
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	u, err := h.svc.Setup(c.Request().Context(), in)
	if err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": u})
}

func (h *Handler) login(c echo.Context) error {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	u, err := h.svc.Authenticate(c.Request().Context(), in.Email, in.Password, c.RealIP())
	if err != nil {
		return err
	}
	if err := h.signIn(c, u); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u})
}

func (h *Handler) logout(c echo.Context) error {
	if si, ok := c.Request().Context().Value(sessionKey{}).(sessionInfo); ok {
		if err := h.svc.DeleteSession(c.Request().Context(), si.token); err != nil {
			return err
		}
	}
	h.clearCookies(c)
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) me(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	u, err := h.svc.User(c.Request().Context(), a.UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u})
}

func (h *Handler) changePassword(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in struct {
		Current string `json:"current_password"`
		New     string `json:"new_password"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	si, _ := c.Request().Context().Value(sessionKey{}).(sessionInfo)
	if err := h.svc.ChangePassword(c.Request().Context(), a.UserID, in.Current, in.New, si.token); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) listTokens(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	ts, err := h.svc.Tokens(c.Request().Context(), a.UserID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"tokens": ts})
}

func (h *Handler) createToken(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	t, err := h.svc.CreateToken(c.Request().Context(), a.UserID, in.Name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"token": t})
}

func (h *Handler) deleteToken(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteToken(c.Request().Context(), a.UserID, c.Param("tid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) listUsers(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	if !a.Admin {
		return apperr.Forbidden("only site admins may list every account")
	}
	us, err := h.svc.Users(c.Request().Context())
	if err != nil {
		return err
	}
	if us == nil {
		us = []User{}
	}
	return c.JSON(http.StatusOK, map[string]any{"users": us})
}

func (h *Handler) listGroups(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	gs, err := h.svc.Groups(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"groups": gs})
}

func (h *Handler) createGroup(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in GroupInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	g, err := h.svc.CreateGroup(c.Request().Context(), a, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"group": g})
}

func (h *Handler) getGroup(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	g, ms, err := h.svc.Group(c.Request().Context(), a, c.Param("gid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"group": g, "members": ms})
}

func (h *Handler) updateGroup(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in GroupInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	g, err := h.svc.UpdateGroup(c.Request().Context(), a, c.Param("gid"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"group": g})
}

func (h *Handler) archiveGroup(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	if err := h.svc.ArchiveGroup(c.Request().Context(), a, c.Param("gid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) createInvitation(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in InvitationInput
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	inv, err := h.svc.CreateInvitation(c.Request().Context(), a, c.Param("gid"), in)
	if err != nil {
		return err
	}
	inv.URL = h.BaseURL + "/invite/" + inv.Token
	return c.JSON(http.StatusCreated, map[string]any{"invitation": inv})
}

func (h *Handler) setRole(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	var in struct {
		Role Role `json:"role"`
	}
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	if err := h.svc.SetMemberRole(c.Request().Context(), a, c.Param("gid"), c.Param("uid"), in.Role); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) removeMember(c echo.Context) error {
	a, err := RequireActor(c)
	if err != nil {
		return err
	}
	if err := h.svc.RemoveMember(c.Request().Context(), a, c.Param("gid"), c.Param("uid")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) getInvitation(c echo.Context) error {
	inv, err := h.svc.Invitation(c.Request().Context(), c.Param("token"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"invitation": inv})
}

func (h *Handler) acceptInvitation(c echo.Context) error {
	var in NewUser
	if err := httpx.Bind(c, &in); err != nil {
		return err
	}
	var actor *Actor
	if a, ok := ActorFrom(c.Request().Context()); ok {
		actor = &a
	}
	u, groupID, err := h.svc.AcceptInvitation(c.Request().Context(), c.Param("token"), actor, in)
	if err != nil {
		return err
	}
	if actor == nil {
		if err := h.signIn(c, u); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"user": u, "group_id": groupID})
}
