package accounts

import (
	"net/http"
	"strings"

	"github.com/filmroom/filmroom/internal/apperr"
)

// The token policy: which requests a token of each scope may send. It is
// decided here, by route pattern (relative to the API's mount point), and
// nowhere else, so that a handler cannot forget it.

// tokenCredentialRoutes are the route prefixes that manage credentials; no
// token may use them, whatever its scope. A token that could make tokens,
// list or end sessions, or change the password could outlive its own
// revocation or lock its owner out.
var tokenCredentialRoutes = []string{"/me/password", "/me/tokens", "/me/sessions"}

// tokenUploadRoutes are the writes an upload token may make besides
// reading: a capture device or a sync script adds recordings and describes
// them. Creating an upload may name a group the uploader belongs to (its
// first audience); but an upload token can never change the audience of an
// existing clip, delete, annotate or edit captions: a leaked upload token
// adds clips to its owner's library and cannot expose or destroy any.
var tokenUploadRoutes = map[string]bool{
	"POST /uploads":     true, // tus creation
	"POST /uploads/":    true,
	"PATCH /uploads/*":  true, // tus upload of the bytes
	"DELETE /uploads/*": true, // tus termination of one's unfinished upload
	"PATCH /clips/:id":  true, // title, description, rubric, reflect-first
}

// tokenFullOnlyReads are GET routes that a read or upload token may not
// use: the live room's websocket sends annotations and sync commands.
var tokenFullOnlyReads = map[string]bool{
	"GET /clips/:id/live": true,
	"GET /me/export":      true, // everything the user has, in one download
	// the unredacted original of a redacted clip: what redaction hid
	"GET /clips/:id/redaction/original": true,
}

// tokenNever are routes no token may use, whatever its scope: deleting the
// account needs the password and a signed-in browser.
var tokenNever = map[string]bool{
	"DELETE /me": true,
}

// TokenUploadRoutes returns "METHOD /pattern" of the writes an upload
// token may make, for tests that check they name real routes.
func TokenUploadRoutes() []string {
	out := make([]string, 0, len(tokenUploadRoutes))
	for r := range tokenUploadRoutes {
		out = append(out, r)
	}
	return out
}

// ErrTokenCannotManageCredentials refuses a token on a credential route.
var ErrTokenCannotManageCredentials = apperr.New(apperr.ErrForbidden, "token_not_allowed",
	"API tokens cannot manage tokens, passwords or sessions; use the web app signed in with your password")

// tokenAllows decides whether a token of scope sc may send method to the
// route pattern (relative to the API's mount point). It returns nil or the
// error to answer.
func tokenAllows(sc Scope, method, pattern string) error {
	for _, p := range tokenCredentialRoutes {
		if pattern == p || strings.HasPrefix(pattern, p+"/") {
			return ErrTokenCannotManageCredentials
		}
	}
	key := method + " " + pattern
	if tokenNever[key] {
		return apperr.New(apperr.ErrForbidden, "token_not_allowed", "API tokens cannot delete an account; use the web app signed in with your password")
	}
	safe := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions
	switch sc {
	case ScopeFull:
		return nil
	case ScopeRead, ScopeUpload:
		if tokenFullOnlyReads[key] {
			return apperr.New(apperr.ErrForbidden, "token_scope",
				"this needs a token with the full scope (live rooms, the data export); this token's scope is "+string(sc))
		}
		if safe || (sc == ScopeUpload && tokenUploadRoutes[key]) {
			return nil
		}
		what := "only reads"
		if sc == ScopeUpload {
			what = "only reads, uploads and setting a clip's details"
		}
		return apperr.New(apperr.ErrForbidden, "token_scope",
			"this API token's scope is "+string(sc)+", which allows "+what+"; create a token with the full scope for this")
	}
	return apperr.New(apperr.ErrForbidden, "token_scope", "this API token has no known scope; create a new one")
}
