package accounts

import (
	"errors"
	"testing"

	"github.com/filmroom/filmroom/internal/apperr"
)

// TestTokenAllows is the token policy as a table: methods and routes
// against the three scopes. "" means allowed, else the error code.
func TestTokenAllows(t *testing.T) {
	t.Parallel()
	const (
		ok    = ""
		scope = "token_scope"
		creds = "token_not_allowed"
	)
	for _, tc := range []struct {
		method, pattern   string
		read, upload, all string
	}{
		{"GET", "/me", ok, ok, ok},
		{"GET", "/clips", ok, ok, ok},
		{"GET", "/clips/:id/media/*", ok, ok, ok},
		{"HEAD", "/uploads/*", ok, ok, ok},
		{"OPTIONS", "/uploads", ok, ok, ok},
		{"GET", "/clips/:id/live/log", ok, ok, ok},
		{"GET", "/clips/:id/live", scope, scope, ok}, // the websocket writes too
		{"GET", "/clips/:id/redaction", ok, ok, ok},
		{"GET", "/clips/:id/redaction/original", scope, scope, ok},
		{"PUT", "/clips/:id/redaction", scope, scope, ok},
		{"POST", "/clips/:id/redaction/apply", scope, scope, ok},
		{"POST", "/uploads", scope, ok, ok},
		{"POST", "/uploads/", scope, ok, ok},
		{"PATCH", "/uploads/*", scope, ok, ok},
		{"DELETE", "/uploads/*", scope, ok, ok},
		{"PATCH", "/clips/:id", scope, ok, ok},
		{"PUT", "/clips/:id/audience", scope, scope, ok},
		{"DELETE", "/clips/:id", scope, scope, ok},
		{"POST", "/clips/:id/annotations", scope, scope, ok},
		{"PUT", "/clips/:id/captions/:lang", scope, scope, ok},
		{"POST", "/groups", scope, scope, ok},
		{"POST", "/auth/logout", scope, scope, ok},
		{"POST", "/*", scope, scope, ok},
		// Credentials: never by token.
		{"GET", "/me/tokens", creds, creds, creds},
		{"POST", "/me/tokens", creds, creds, creds},
		{"DELETE", "/me/tokens/:tid", creds, creds, creds},
		{"POST", "/me/password", creds, creds, creds},
		{"GET", "/me/sessions", creds, creds, creds},
		{"DELETE", "/me/sessions/:sid", creds, creds, creds},
		{"POST", "/me/sessions/revoke-others", creds, creds, creds},
	} {
		for _, sc := range []struct {
			scope Scope
			want  string
		}{{ScopeRead, tc.read}, {ScopeUpload, tc.upload}, {ScopeFull, tc.all}} {
			err := tokenAllows(sc.scope, tc.method, tc.pattern)
			var e *apperr.Error
			got := ""
			if err != nil {
				if !errors.As(err, &e) || !errors.Is(err, apperr.ErrForbidden) {
					t.Fatalf("%s %s (%s): %v is not a forbidden apperr", tc.method, tc.pattern, sc.scope, err)
				}
				got = e.Code
			}
			if got != sc.want {
				t.Errorf("%s %s with a %s token: %q, want %q", tc.method, tc.pattern, sc.scope, got, sc.want)
			}
		}
	}
	if err := tokenAllows("", "GET", "/me"); err == nil {
		t.Error("a token without a scope may read")
	}
}
