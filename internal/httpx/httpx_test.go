package httpx_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
)

// TestErrorHandlerRetryAfter: an error that says how long to wait becomes
// a Retry-After header in whole seconds, rounded up.
func TestErrorHandlerRetryAfter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"rate limited", apperr.TooManyRequests("rate_limited", "wait", 1500*time.Millisecond), 429, "2"},
		{"under a second still says 1", apperr.TooManyRequests("rate_limited", "wait", 10*time.Millisecond), 429, "1"},
		{"busy", &apperr.Error{Kind: apperr.ErrUnavailable, Code: "busy", Message: "busy", RetryAfter: time.Second}, 503, "1"},
		{"wrapped", errors.Join(errors.New("context"), apperr.TooManyRequests("x", "wait", time.Minute)), 429, "60"},
		{"no wait", apperr.New(apperr.ErrTooManyRequests, "x", "slow down"), 429, ""},
		{"another error", apperr.NotFound("clip"), 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := echo.New()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), rec)
			httpx.ErrorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))(tc.err, c)
			if rec.Code != tc.status || rec.Header().Get("Retry-After") != tc.retryAfter {
				t.Fatalf("status %d, Retry-After %q; want %d, %q", rec.Code, rec.Header().Get("Retry-After"), tc.status, tc.retryAfter)
			}
		})
	}
}
