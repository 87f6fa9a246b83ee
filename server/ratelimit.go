package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
)

// Limits are every rate limit of a node. All are counted in the database
// (internal/ratelimit), so N nodes do not give N times the requests.
type Limits struct {
	// SignIn throttles password guesses (see accounts.Limits).
	SignIn accounts.Limits
	// WritesPerUser and WritesPerAddress limit API writes: POST, PUT, PATCH
	// and DELETE under /api/v1, except the chunks of an upload already
	// started (their number follows the file size, which --max-upload
	// bounds).
	WritesPerUser, WritesPerAddress ratelimit.Rate
	// UploadsPerUser limits starting uploads (each may reserve gigabytes).
	UploadsPerUser ratelimit.Rate
}

// DefaultLimits are generous for people and tight for scripts: a coach
// marking a lesson fast makes a note every few seconds, far below 120 a
// minute, and the burst of 60 covers pasting a batch; a school behind one
// address gets five users' worth.
func DefaultLimits() Limits {
	return Limits{
		SignIn:           accounts.DefaultLimits(),
		WritesPerUser:    ratelimit.Rate{Count: 120, Per: time.Minute, Burst: 60},
		WritesPerAddress: ratelimit.Rate{Count: 600, Per: time.Minute, Burst: 300},
		UploadsPerUser:   ratelimit.Rate{Count: 60, Per: time.Hour, Burst: 30},
	}
}

// finish fills what the flags do not set: the back-off's base and memory,
// and the password-change back-off, which follows the sign-in one.
func (l *Limits) finish() {
	d := accounts.DefaultLimits().Pair
	l.SignIn.Pair.Base, l.SignIn.Pair.Forget = d.Base, d.Forget
	l.SignIn.Pair.Max = max(l.SignIn.Pair.Max, l.SignIn.Pair.Base)
	l.SignIn.Password = l.SignIn.Pair
}

// forget is how long the housekeeping keeps an idle back-off row.
func (l Limits) forget() time.Duration {
	return max(l.SignIn.Pair.Forget, l.SignIn.Password.Forget, 24*time.Hour)
}

// clientIP is how requests get the client address the per-address limits
// count: the connection's own, or, behind the configured load balancers
// only, the nearest address in X-Forwarded-For that is not one of them (a
// client cannot escape its limit by sending the header itself).
func clientIP(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// writeLimit refuses API writes past the per-user and per-address rates
// with 429 and Retry-After. It runs after authentication, so it knows the
// user; anonymous writes (sign-in, invitations) count per address only.
func writeLimit(lim ratelimit.Limiter, l Limits, log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if !isWrite(req.Method) || isUploadChunk(req.Method, req.URL.Path) {
				return next(c)
			}
			ctx := req.Context()
			var taken []func(context.Context)
			refund := func() {
				for _, f := range taken {
					f(context.WithoutCancel(ctx))
				}
			}
			check := func(key string, r ratelimit.Rate, what string) error {
				d, err := lim.Allow(ctx, key, r)
				if err != nil {
					refund()
					return err
				}
				if !d.Allowed {
					refund()
					return apperr.TooManyRequests("rate_limited",
						fmt.Sprintf("%s faster than filmroom accepts (%s); wait %s and try again", what, rateText(r), secondsText(d.RetryAfterSeconds())), d.RetryAfter)
				}
				taken = append(taken, func(ctx context.Context) {
					if err := lim.Refund(ctx, key, r); err != nil {
						log.Warn("Could not refund a rate limit.", "error", err)
					}
				})
				return nil
			}
			if a, ok := accounts.ActorFrom(ctx); ok {
				if err := check(ratelimit.Key("write-user", a.UserID), l.WritesPerUser, "you are sending changes"); err != nil {
					return err
				}
				if isUploadCreation(req.Method, req.URL.Path) {
					if err := check(ratelimit.Key("upload-user", a.UserID), l.UploadsPerUser, "you are starting uploads"); err != nil {
						return err
					}
				}
			}
			if err := check(ratelimit.Key("write-address", c.RealIP()), l.WritesPerAddress, "your network is sending changes"); err != nil {
				return err
			}
			return next(c)
		}
	}
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

func isUploadCreation(method, path string) bool {
	return method == http.MethodPost && (path == "/api/v1/uploads" || path == uploadsPath)
}

// isUploadChunk is a tus request on an upload already created (PATCH of a
// chunk, DELETE to cancel it).
func isUploadChunk(method, path string) bool {
	return method != http.MethodPost && strings.HasPrefix(path, uploadsPath) && len(path) > len(uploadsPath)
}

// rateText says a rate as a person would: "120 a minute".
func rateText(r ratelimit.Rate) string {
	switch r.Per {
	case time.Second:
		return fmt.Sprintf("%d a second", r.Count)
	case time.Minute:
		return fmt.Sprintf("%d a minute", r.Count)
	case time.Hour:
		return fmt.Sprintf("%d an hour", r.Count)
	}
	return fmt.Sprintf("%d every %s", r.Count, r.Per)
}

func secondsText(n int) string {
	if n == 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}
