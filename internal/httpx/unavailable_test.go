package httpx

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/internal/apperr"
)

// TestUnavailableIs503 checks the one error handler: a database that is
// away answers 503 with the JSON error and Retry-After, not 500.
func TestUnavailableIs503(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"database shutting down", fmt.Errorf("list clips: %w", &pgconn.PgError{Code: "57P01"}), 503, "database_unavailable"},
		{"apperr unavailable", apperr.New(apperr.ErrUnavailable, "storage_unavailable", "the storage is away"), 503, "storage_unavailable"},
		{"other error", fmt.Errorf("boom"), 500, "internal"},
	} {
		e := echo.New()
		e.HTTPErrorHandler = ErrorHandler(discard())
		e.GET("/x", func(echo.Context) error { return tc.err })
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		var body ErrorBody
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != tc.status || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, rec.Code, rec.Body, tc.status, tc.code)
		}
		if got := rec.Header().Get("Retry-After"); (tc.status == 503) != (got != "") {
			t.Errorf("%s: Retry-After %q with status %d", tc.name, got, rec.Code)
		}
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
