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

// SessionSeenEvery is how stale a session's "last seen" may get before a
// request refreshes it: often enough for a person to recognise their
// devices, rarely enough that reading pages does not mean a write each.
const SessionSeenEvery = 5 * time.Minute

// Session is a signed-in browser.
type Session struct {
	// ID names the session in lists and revocations; it is not a secret.
	ID        string
	Token     string // only known right after creation
	UserID    string
	CSRFToken string
	ExpiresAt time.Time
}

// NewSession is what signing a browser in records.
type NewSession struct {
	UserID    string
	UserAgent string
	ClientIP  string
	// Replaces is the session cookie the browser sent with the sign-in, if
	// any. That session is ended in the same transaction, so an identifier
	// planted in a browser (session fixation) or left over from an earlier
	// sign-in never outlives this one.
	Replaces string
}

// SessionInfo is one of a user's sessions as they see it in their list.
type SessionInfo struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	ClientIP   string    `json:"client_ip"`
	// Current marks the session the list was asked for with.
	Current bool `json:"current"`
}

// Revoked counts what a "sign out everywhere else" ended.
type Revoked struct {
	Sessions int64 `json:"sessions"`
	Tokens   int64 `json:"tokens"`
}

// CreateSession signs a user in and returns the secrets for the cookies.
// It is StartSession without a client address or a session to replace.
func (s *Service) CreateSession(ctx context.Context, userID, userAgent string) (Session, error) {
	return s.StartSession(ctx, NewSession{UserID: userID, UserAgent: userAgent})
}

// StartSession signs a user in, ending the session n.Replaces names, and
// returns the secrets for the cookies.
func (s *Service) StartSession(ctx context.Context, n NewSession) (Session, error) {
	now := s.now()
	se := Session{ID: id.New(), Token: id.Secret(32), UserID: n.UserID, CSRFToken: id.Secret(20), ExpiresAt: now.Add(s.SessionTTL)}
	ua := truncate(n.UserAgent, 300)
	var replacedUser string
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if n.Replaces != "" {
			if err := q.QueryRow(ctx, `SELECT user_id FROM sessions WHERE token_hash = ?`, hashToken(n.Replaces)).Scan(&replacedUser); err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("find the replaced session: %w", err)
			}
			if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, hashToken(n.Replaces)); err != nil {
				return fmt.Errorf("end the replaced session: %w", err)
			}
		}
		_, err := q.Exec(ctx, `INSERT INTO sessions (id, token_hash, user_id, csrf_token, user_agent, client_ip, created_at, last_seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			se.ID, hashToken(se.Token), n.UserID, se.CSRFToken, ua, truncate(n.ClientIP, 64), sqldb.Millis(now), sqldb.Millis(now), sqldb.Millis(se.ExpiresAt))
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("create session for %s: %w", n.UserID, err)
	}
	if replacedUser != "" {
		s.AccessChanged(ctx, AccessChange{UserID: replacedUser})
	}
	return se, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// SessionUser resolves a session cookie to its user and CSRF token.
func (s *Service) SessionUser(ctx context.Context, token string) (User, string, error) {
	u, se, err := s.ResolveSession(ctx, token, "")
	return u, se.CSRFToken, err
}

// ResolveSession resolves a session cookie to its user and session, and
// records the use (at most every SessionSeenEvery) with the client address.
func (s *Service) ResolveSession(ctx context.Context, token, clientIP string) (User, Session, error) {
	var se Session
	var expires, created, seen int64
	var u User
	err := s.db.Reader().QueryRow(ctx, `SELECT u.id, u.email, u.name, u.admin, u.created_at, s.id, s.csrf_token, s.expires_at, s.last_seen_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hashToken(token)).
		Scan(&u.ID, &u.Email, &u.Name, &u.Admin, &created, &se.ID, &se.CSRFToken, &expires, &seen)
	now := s.now()
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !sqldb.Time(expires).After(now)) {
		return User{}, Session{}, apperr.ErrUnauthorized
	}
	if err != nil {
		return User{}, Session{}, fmt.Errorf("read session: %w", err)
	}
	u.CreatedAt = sqldb.Time(created)
	se.UserID, se.ExpiresAt = u.ID, sqldb.Time(expires)
	if now.Sub(sqldb.Time(seen)) >= SessionSeenEvery {
		// Best effort: a failed stamp must not fail the request. An empty
		// address (a caller without one) keeps the last known.
		query, args := `UPDATE sessions SET last_seen_at = ?, client_ip = ? WHERE id = ?`, []any{sqldb.Millis(now), truncate(clientIP, 64), se.ID}
		if clientIP == "" {
			query, args = `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, []any{sqldb.Millis(now), se.ID}
		}
		if _, err := s.db.Writer().Exec(ctx, query, args...); err != nil {
			s.log.Warn("Could not record session use.", "session_id", se.ID, "error", err)
		}
	}
	return u, se, nil
}

// Sessions lists the user's unexpired sessions, most recently used first,
// marking the one with currentID.
func (s *Service) Sessions(ctx context.Context, userID, currentID string) ([]SessionInfo, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT id, user_agent, client_ip, created_at, last_seen_at, expires_at
		FROM sessions WHERE user_id = ? AND expires_at > ? ORDER BY last_seen_at DESC, id`, userID, sqldb.Millis(s.now()))
	if err != nil {
		return nil, fmt.Errorf("list sessions of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []SessionInfo{}
	for rows.Next() {
		var si SessionInfo
		var created, seen, expires int64
		if err := rows.Scan(&si.ID, &si.UserAgent, &si.ClientIP, &created, &seen, &expires); err != nil {
			return nil, fmt.Errorf("list sessions of %s: %w", userID, err)
		}
		si.CreatedAt, si.LastSeenAt, si.ExpiresAt = sqldb.Time(created), sqldb.Time(seen), sqldb.Time(expires)
		si.Current = si.ID == currentID
		out = append(out, si)
	}
	return out, rows.Err()
}

// RevokeSession ends one of the user's sessions by its id (signing that
// browser out). Another user's session is "not found".
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return s.revokeOne(ctx, `DELETE FROM sessions WHERE id = ? AND user_id = ?`, "session", userID, sessionID)
}

// revokeOne deletes one credential of the user (a session or a token, by
// del, which takes its id and the user's) and announces the change to
// long-lived connections; another user's credential is "not found".
func (s *Service) revokeOne(ctx context.Context, del, what, userID, credID string) error {
	res, err := s.db.Writer().Exec(ctx, del, credID, userID)
	if err != nil {
		return fmt.Errorf("revoke %s %s: %w", what, credID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.NotFound(what)
	}
	s.AccessChanged(ctx, AccessChange{UserID: userID})
	return nil
}

// RevokeOthers is "sign out everywhere else": it ends every session of the
// user but keepSessionID, and revokes every API token, in one transaction.
func (s *Service) RevokeOthers(ctx context.Context, userID, keepSessionID string) (Revoked, error) {
	var r Revoked
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		res, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, keepSessionID)
		if err != nil {
			return fmt.Errorf("end other sessions of %s: %w", userID, err)
		}
		r.Sessions, _ = res.RowsAffected()
		res, err = q.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, userID)
		if err != nil {
			return fmt.Errorf("revoke tokens of %s: %w", userID, err)
		}
		r.Tokens, _ = res.RowsAffected()
		return nil
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID})
	}
	return r, err
}

// revokeTokens deletes every API token of the user (inside a password
// change's transaction).
func revokeTokens(ctx context.Context, q sqldb.Q, userID string) error {
	if _, err := q.Exec(ctx, `DELETE FROM api_tokens WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("revoke tokens of %s: %w", userID, err)
	}
	return nil
}

// DeleteSession signs a browser out.
func (s *Service) DeleteSession(ctx context.Context, token string) error {
	h := hashToken(token)
	var userID string
	err := s.db.Reader().QueryRow(ctx, `SELECT user_id FROM sessions WHERE token_hash = ?`, h).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if _, err := s.db.Writer().Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.AccessChanged(ctx, AccessChange{UserID: userID})
	return nil
}

// ExpiredTokenKeep is how long an expired API token stays listed (marked
// expired, so its owner sees why a script stopped) before it is purged.
const ExpiredTokenKeep = 30 * 24 * time.Hour

// PurgeExpired removes expired sessions, and API tokens that expired more
// than ExpiredTokenKeep ago; the server runs it periodically.
func (s *Service) PurgeExpired(ctx context.Context) error {
	now := s.now()
	if _, err := s.db.Writer().Exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, sqldb.Millis(now)); err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	if _, err := s.db.Writer().Exec(ctx, `DELETE FROM api_tokens WHERE expires_at < ?`, sqldb.Millis(now.Add(-ExpiredTokenKeep))); err != nil {
		return fmt.Errorf("purge tokens: %w", err)
	}
	return nil
}

// Credential kinds, the prefix of Actor.Credential.
const (
	CredentialSession = "session"
	CredentialToken   = "token"
)

// ErrCredentialGone is CheckCredential's answer for a session or token that was revoked,
// expired or never existed.
var ErrCredentialGone = apperr.New(apperr.ErrUnauthorized, "credential_revoked",
	"your sign-in has ended (signed out, expired or revoked); sign in again")

// CheckCredential reports whether what authenticated a's request still
// stands: nil while its session or token exists and has not expired, an
// error wrapping apperr.ErrUnauthorized otherwise. Long-lived connections
// (live-room websockets) call it to notice a revocation.
func (s *Service) CheckCredential(ctx context.Context, a Actor) error {
	kind, credID, _ := strings.Cut(a.Credential, ":")
	var query string
	switch kind {
	case CredentialSession:
		query = `SELECT expires_at FROM sessions WHERE id = ? AND user_id = ?`
	case CredentialToken:
		query = `SELECT expires_at FROM api_tokens WHERE id = ? AND user_id = ?`
	default:
		return ErrCredentialGone
	}
	if credID == "" || a.UserID == "" {
		return ErrCredentialGone
	}
	var expires int64
	err := s.db.Reader().QueryRow(ctx, query, credID, a.UserID).Scan(&expires)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrCredentialGone
	}
	if err != nil {
		return fmt.Errorf("check credential %s: %w", a.Credential, err)
	}
	if !sqldb.Time(expires).After(s.now()) {
		return ErrCredentialGone
	}
	return nil
}
