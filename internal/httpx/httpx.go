// Package httpx holds the HTTP conventions every filmroom handler shares:
// strict JSON binding, the one JSON error shape, and the one place where
// domain errors become status codes.
package httpx

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// RetryAfterUnavailable is the Retry-After (seconds) of a 503: about how
// long a database or storage restart takes.
const RetryAfterUnavailable = "5"

// MaxJSONBody is the largest JSON request body accepted by Bind.
const MaxJSONBody = 1 << 20

// ErrorBody is the JSON error shape: {"error":{"code","message","fields"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Bind decodes a JSON body into v strictly: at most MaxJSONBody bytes (or
// limit, when given), no unknown fields, one JSON value, valid UTF-8.
func Bind(c echo.Context, v any, limit ...int64) error {
	max := int64(MaxJSONBody)
	if len(limit) > 0 {
		max = limit[0]
	}
	req := c.Request()
	if ct := req.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/ld+json") {
		return apperr.New(nil, "unsupported_media_type", "send the request body as JSON (Content-Type: application/json)")
	}
	body := http.MaxBytesReader(c.Response(), req.Body, max)
	return DecodeJSON(body, v, max)
}

// DecodeJSON is Bind's decoder, for bodies that do not come from echo (the
// websocket uses it so both paths accept the same JSON).
func DecodeJSON(r io.Reader, v any, max int64) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return apperr.New(apperr.ErrTooLarge, "body_too_large", fmt.Sprintf("the request body is larger than %d bytes", max))
		case errors.Is(err, io.EOF):
			return apperr.New(nil, "invalid_json", "the request body is empty; send a JSON object")
		case errors.As(err, &syn):
			return apperr.New(nil, "invalid_json", fmt.Sprintf("the request body is not valid JSON (at byte %d)", syn.Offset))
		case errors.As(err, &typ):
			return apperr.Invalid(typ.Field, "must be a %s", typ.Type.String())
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return apperr.Invalid(field, "is not a field this request accepts")
		default:
			return apperr.New(nil, "invalid_json", "the request body could not be read as JSON: "+err.Error())
		}
	}
	if dec.More() {
		return apperr.New(nil, "invalid_json", "the request body has data after the JSON object")
	}
	return nil
}

// Status maps an error to its HTTP status and error detail.
func Status(err error) (int, ErrorDetail) {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok && m != "" {
			msg = m
		}
		code := strings.ReplaceAll(strings.ToLower(http.StatusText(he.Code)), " ", "_")
		if he.Code == http.StatusNotFound {
			code, msg = "not_found", "there is nothing at this address"
		}
		return he.Code, ErrorDetail{Code: code, Message: msg}
	}
	var v *apperr.Validation
	if errors.As(err, &v) {
		return http.StatusBadRequest, ErrorDetail{Code: "invalid_input", Message: v.Error(), Fields: v.Fields}
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return kindStatus(ae.Kind), ErrorDetail{Code: ae.Code, Message: ae.Message}
	}
	switch {
	case errors.Is(err, apperr.ErrNotFound):
		return http.StatusNotFound, ErrorDetail{Code: "not_found", Message: "not found"}
	case errors.Is(err, apperr.ErrForbidden):
		return http.StatusForbidden, ErrorDetail{Code: "forbidden", Message: "you may not do this"}
	case errors.Is(err, apperr.ErrUnauthorized):
		return http.StatusUnauthorized, ErrorDetail{Code: "unauthorized", Message: "please sign in"}
	case errors.Is(err, apperr.ErrConflict):
		return http.StatusConflict, ErrorDetail{Code: "conflict", Message: err.Error()}
	case errors.Is(err, apperr.ErrUnavailable):
		return http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable", Message: "this is unavailable for a moment; please try again shortly"}
	case sqldb.IsUnavailable(err):
		return http.StatusServiceUnavailable, ErrorDetail{Code: "database_unavailable",
			Message: "filmroom cannot reach its database right now; nothing was changed, please try again in a few seconds"}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		// A dependency reached over the network (object storage, the
		// database under a driver error we do not know) refused or dropped
		// the connection: temporary, so 503 rather than 500.
		return http.StatusServiceUnavailable, ErrorDetail{Code: "unavailable",
			Message: "filmroom cannot reach a service it depends on right now; please try again in a few seconds"}
	}
	return http.StatusInternalServerError, ErrorDetail{Code: "internal", Message: "something went wrong on the server; it has been logged, please try again"}
}

func kindStatus(kind error) int {
	switch {
	case kind == nil:
		return http.StatusBadRequest
	case errors.Is(kind, apperr.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(kind, apperr.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(kind, apperr.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(kind, apperr.ErrConflict):
		return http.StatusConflict
	case errors.Is(kind, apperr.ErrTooManyRequests):
		return http.StatusTooManyRequests
	case errors.Is(kind, apperr.ErrGone):
		return http.StatusGone
	case errors.Is(kind, apperr.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(kind, apperr.ErrUnsupported):
		return http.StatusUnsupportedMediaType
	case errors.Is(kind, apperr.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(kind, apperr.ErrInsufficientStorage):
		return http.StatusInsufficientStorage
	}
	return http.StatusBadRequest
}

// ErrorHandler is echo's HTTPErrorHandler: one JSON error shape for every
// failure, and one log line for each unexpected (5xx) error.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, detail := Status(err)
		switch {
		case status == http.StatusServiceUnavailable:
			// Expected while a dependency restarts: a warning, and a hint
			// for clients (and the web app) when to try again.
			c.Response().Header().Set("Retry-After", RetryAfterUnavailable)
			log.Warn("Request failed: a dependency is unavailable.", "method", c.Request().Method, "path", c.Path(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
		case status >= 500:
			log.Error("Request failed.", "method", c.Request().Method, "path", c.Path(),
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err)
		}
		var ae *apperr.Error
		if errors.As(err, &ae) && ae.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds(ae.RetryAfter)))
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, ErrorBody{Error: detail})
	}
}

// RetryAfterSeconds rounds a wait up to the whole seconds of a Retry-After
// header (at least 1: "0" would invite an immediate retry).
func RetryAfterSeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}
