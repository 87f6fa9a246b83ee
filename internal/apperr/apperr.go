// Package apperr holds the typed errors that domain packages return and that
// the HTTP layer turns into status codes in one place. Domain code never
// speaks HTTP; it says "not found", "forbidden" or "this field is wrong".
package apperr

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Sentinel errors; wrap them with fmt.Errorf("...: %w", ErrX) to add context.
var (
	ErrNotFound     = errors.New("not found")
	ErrForbidden    = errors.New("forbidden")
	ErrUnauthorized = errors.New("sign-in required")
	ErrConflict     = errors.New("conflict")
	// Rarer kinds: 429, 410, 413, 415 and 503 in HTTP terms.
	ErrTooManyRequests = errors.New("too many requests")
	ErrGone            = errors.New("gone")
	ErrTooLarge        = errors.New("too large")
	ErrUnsupported     = errors.New("unsupported media type")
	// ErrUnavailable is a dependency that is away for now (503 with
	// Retry-After): the request may succeed when tried again.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrInsufficientStorage is 507: the server has no room for the work.
	ErrInsufficientStorage = errors.New("insufficient storage")
)

// Error is an error with a stable machine code and a message a person can
// act on. Kind is one of the sentinels above (or nil for a bad request).
type Error struct {
	Kind    error
	Code    string
	Message string
	// RetryAfter, when set, tells the caller how long to wait before
	// trying again (a Retry-After header in HTTP).
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

// Unwrap lets errors.Is match the kind.
func (e *Error) Unwrap() error { return e.Kind }

// New returns an Error of the given kind.
func New(kind error, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// TooManyRequests says the caller must wait retryAfter before trying again.
func TooManyRequests(code, message string, retryAfter time.Duration) *Error {
	return &Error{Kind: ErrTooManyRequests, Code: code, Message: message, RetryAfter: retryAfter}
}

// NotFound is the usual "no such thing, or you may not see it" error. Callers
// use it for things the user may not see too, so that IDs leak nothing.
func NotFound(what string) *Error {
	return &Error{Kind: ErrNotFound, Code: "not_found", Message: what + " not found"}
}

// Forbidden says the user is known but may not do this.
func Forbidden(message string) *Error {
	return &Error{Kind: ErrForbidden, Code: "forbidden", Message: message}
}

// Validation collects field errors for one request; it is a bad request.
type Validation struct {
	Fields map[string]string
}

// Add records a problem with a field; the first problem per field wins.
func (v *Validation) Add(field, format string, args ...any) {
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if _, ok := v.Fields[field]; !ok {
		v.Fields[field] = fmt.Sprintf(format, args...)
	}
}

// Err returns nil when nothing was added, else the validation error itself.
func (v *Validation) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}

func (v *Validation) Error() string {
	keys := make([]string, 0, len(v.Fields))
	for k := range v.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + v.Fields[k]
	}
	return "please correct: " + strings.Join(parts, "; ")
}

// Invalid returns a validation error for one field.
func Invalid(field, format string, args ...any) error {
	v := &Validation{}
	v.Add(field, format, args...)
	return v
}
