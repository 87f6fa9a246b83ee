package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// AccessChange says that someone's access may just have shrunk: a session
// or token ended, a membership or role changed, a group was archived, a
// clip's audience changed or the clip was deleted. Empty fields are
// wildcards: {GroupID: g} concerns everyone who may see a clip through g,
// {ClipID: c} everyone in the clip's audience, {UserID: u} every
// connection of u. Long-lived connections (live rooms) re-authorize the
// connections a change concerns and close those that lost access.
type AccessChange struct {
	UserID  string `json:"user_id,omitempty"`
	ClipID  string `json:"clip_id,omitempty"`
	GroupID string `json:"group_id,omitempty"`
}

// AccessChanged reports c to the OnAccessChange hook, if the server set
// one. Domain packages (accounts, media) call it after committing a change
// that may take access away; the hook (the live hub, wired by the server)
// must not block.
func (s *Service) AccessChanged(ctx context.Context, c AccessChange) {
	if s != nil && s.OnAccessChange != nil {
		s.OnAccessChange(ctx, c)
	}
}

// Credential prefixes (see Actor.Credential).
const (
	credSession = "session:"
	credToken   = "token:"
)

func sessionCredential(tokenHash string) string { return credSession + tokenHash }
func tokenCredential(tokenID string) string     { return credToken + tokenID }

// ErrCredentialGone is CheckCredential's answer for a session that was
// signed out or expired, or a token that was deleted.
var ErrCredentialGone = apperr.New(apperr.ErrUnauthorized, "signed_out", "this sign-in has ended; sign in again")

// CheckCredential returns nil while the session or token that authenticated
// a (a.Credential) exists, belongs to a's user and has not expired, and
// ErrCredentialGone once it does not. An actor without a credential (made
// by the CLI or a test, never by Authenticate) has nothing to re-check.
func (s *Service) CheckCredential(ctx context.Context, a Actor) error {
	switch {
	case a.Credential == "":
		return nil
	case strings.HasPrefix(a.Credential, credSession):
		var expires int64
		err := s.db.Reader().QueryRow(ctx, `SELECT expires_at FROM sessions WHERE token_hash = ? AND user_id = ?`,
			strings.TrimPrefix(a.Credential, credSession), a.UserID).Scan(&expires)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrCredentialGone
		}
		if err != nil {
			return fmt.Errorf("check session of %s: %w", a.UserID, err)
		}
		if sqldb.Time(expires).Before(s.now()) {
			return ErrCredentialGone
		}
		return nil
	case strings.HasPrefix(a.Credential, credToken):
		var n int
		if err := s.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM api_tokens WHERE id = ? AND user_id = ?`,
			strings.TrimPrefix(a.Credential, credToken), a.UserID).Scan(&n); err != nil {
			return fmt.Errorf("check token of %s: %w", a.UserID, err)
		}
		if n == 0 {
			return ErrCredentialGone
		}
		return nil
	}
	return ErrCredentialGone
}
