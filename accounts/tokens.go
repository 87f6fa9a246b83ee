package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Scope is what an API token may do. Whatever its scope, a token never
// manages credentials (tokens, password, sessions): that takes the web app
// signed in with the password, so a leaked token cannot entrench itself.
type Scope string

// The token scopes, from least to most.
const (
	// ScopeRead: only safe requests (GET, HEAD, OPTIONS), except opening a
	// live room, whose socket also writes.
	ScopeRead Scope = "read"
	// ScopeUpload: read, plus adding recordings (tus uploads) and setting a
	// clip's metadata; never changing who sees a clip, deleting, or
	// annotating. See tokenUploadRoutes.
	ScopeUpload Scope = "upload"
	// ScopeFull: everything the user can do, but managing credentials.
	ScopeFull Scope = "full"
)

// Valid reports whether sc is one of the three scopes.
func (sc Scope) Valid() bool { return sc == ScopeRead || sc == ScopeUpload || sc == ScopeFull }

// TokenLifetimes are the expiries one may choose for a token, in days.
// There is no "never": a forgotten token on a retired laptop should stop
// working on its own; a script that runs for years gets a new token yearly.
var TokenLifetimes = []int{7, 30, 90, 365}

// DefaultTokenDays is the expiry of a token when none is chosen.
const DefaultTokenDays = 90

// APIToken is a personal token for scripts, sent as "Authorization: Bearer".
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"` // shown once, at creation
	Scope      Scope      `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	Expired    bool       `json:"expired"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenInput is what creating a token takes.
type TokenInput struct {
	Name  string `json:"name"`
	Scope Scope  `json:"scope"`
	// ExpiresInDays is one of TokenLifetimes; 0 means DefaultTokenDays.
	ExpiresInDays int `json:"expires_in_days"`
}

// TokenPrefix marks filmroom tokens so that secret scanners can spot them.
const TokenPrefix = "frt_"

// CreateToken makes a full-scope token with the default expiry (for the
// CLI and tests; the API names scope and expiry through IssueToken).
func (s *Service) CreateToken(ctx context.Context, userID, name string) (APIToken, error) {
	return s.IssueToken(ctx, userID, TokenInput{Name: name, Scope: ScopeFull})
}

// IssueToken makes a personal API token with a scope and an expiry.
func (s *Service) IssueToken(ctx context.Context, userID string, in TokenInput) (APIToken, error) {
	v := &apperr.Validation{}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 100 {
		v.Add("name", "name the token after the script that uses it (1–100 characters)")
	}
	if !in.Scope.Valid() {
		v.Add("scope", "choose read (look only), upload (add recordings) or full")
	}
	days := in.ExpiresInDays
	if days == 0 {
		days = DefaultTokenDays
	}
	okDays := false
	for _, d := range TokenLifetimes {
		okDays = okDays || d == days
	}
	if !okDays {
		v.Add("expires_in_days", "choose 7, 30, 90 or 365 days")
	}
	if err := v.Err(); err != nil {
		return APIToken{}, err
	}
	now := sqldb.Time(sqldb.Millis(s.now()))
	t := APIToken{ID: id.New(), Name: name, Token: TokenPrefix + id.Secret(32), Scope: in.Scope,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour)}
	_, err := s.db.Writer().Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, userID, t.Name, hashToken(t.Token), string(t.Scope), sqldb.Millis(now), sqldb.Millis(t.ExpiresAt))
	if err != nil {
		return APIToken{}, fmt.Errorf("create token for %s: %w", userID, err)
	}
	return t, nil
}

// Tokens lists a user's tokens (without secrets), expired ones marked.
func (s *Service) Tokens(ctx context.Context, userID string) ([]APIToken, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT id, name, scope, created_at, expires_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
	}
	defer rows.Close()
	now := s.now()
	out := []APIToken{}
	for rows.Next() {
		var t APIToken
		var created, expires int64
		var used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Scope, &created, &expires, &used); err != nil {
			return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
		}
		t.CreatedAt, t.ExpiresAt, t.LastUsedAt = sqldb.Time(created), sqldb.Time(expires), sqldb.NullTime(used)
		t.Expired = !t.ExpiresAt.After(now)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken revokes one of the user's tokens.
func (s *Service) DeleteToken(ctx context.Context, userID, tokenID string) error {
	return s.revokeOne(ctx, `DELETE FROM api_tokens WHERE id = ? AND user_id = ?`, "token", userID, tokenID)
}

// ErrInvalidToken is the answer for a bearer token that is not (or no
// longer) a token.
var ErrInvalidToken = apperr.New(apperr.ErrUnauthorized, "invalid_token", "this API token is not valid (it may have been revoked); create a new one on your account page")

// TokenUser resolves a bearer token to its user.
func (s *Service) TokenUser(ctx context.Context, token string) (User, error) {
	u, _, err := s.ResolveToken(ctx, token)
	return u, err
}

// ResolveToken resolves a bearer token to its user and token (ID, scope,
// expiry). An expired token is refused with an error naming when it expired.
func (s *Service) ResolveToken(ctx context.Context, token string) (User, APIToken, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return User{}, APIToken{}, ErrInvalidToken
	}
	var t APIToken
	var u User
	var created, expires int64
	var used sql.NullInt64
	err := s.db.Reader().QueryRow(ctx, `SELECT t.id, t.name, t.scope, t.expires_at, t.last_used_at, u.id, u.email, u.name, u.admin, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, hashToken(token)).
		Scan(&t.ID, &t.Name, &t.Scope, &expires, &used, &u.ID, &u.Email, &u.Name, &u.Admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, APIToken{}, ErrInvalidToken
	}
	if err != nil {
		return User{}, APIToken{}, fmt.Errorf("read token: %w", err)
	}
	u.CreatedAt, t.ExpiresAt = sqldb.Time(created), sqldb.Time(expires)
	now := s.now()
	if !t.ExpiresAt.After(now) {
		return User{}, APIToken{}, apperr.New(apperr.ErrUnauthorized, "token_expired",
			fmt.Sprintf("this API token (%q) expired on %s; create a new one on your account page", t.Name, t.ExpiresAt.Format("2006-01-02 15:04 UTC")))
	}
	t.LastUsedAt = sqldb.NullTime(used)
	// Best effort: a failed usage stamp must not fail the request. Like a
	// session's "last seen", it is refreshed at most every SessionSeenEvery,
	// so a busy script does not mean a database write per request.
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= SessionSeenEvery {
		if _, err := s.db.Writer().Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, sqldb.Millis(now), t.ID); err != nil {
			s.log.Warn("Could not record token use.", "token_id", t.ID, "error", err)
		}
	}
	return u, t, nil
}
