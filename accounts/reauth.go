package accounts

import (
	"context"
	"fmt"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
)

// VerifyPassword checks a signed-in user's password again before something
// that cannot be undone (deleting the account). Wrong guesses count against
// the same per-user back-off as changing the password (Limits.Password),
// before hashing, so neither route can be used to guess faster.
func (s *Service) VerifyPassword(ctx context.Context, userID, password string) error {
	return s.recheckPassword(ctx, userID, password, "password", "too many wrong passwords; wait %s and try again",
		"this is not your password")
}

// recheckPassword is the per-user throttled check of a signed-in user's
// own password that ChangePassword and VerifyPassword share: the guess is
// counted before hashing, hashes are bounded, and a right one clears the
// count. field names the input in the error; busy (with one %s for the
// wait) and wrong are the messages the user sees.
func (s *Service) recheckPassword(ctx context.Context, userID, password, field, busy, wrong string) error {
	key := ratelimit.Key("password", userID)
	d, err := s.limiter.Attempt(ctx, key, s.Limits.Password)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return apperr.TooManyRequests("too_many_attempts", fmt.Sprintf(busy, waitText(d.RetryAfter)), d.RetryAfter)
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		_ = s.limiter.Uncount(context.WithoutCancel(ctx), key)
		return err
	}
	defer release()
	var hash string
	if err := s.db.Reader().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
		return fmt.Errorf("check password of %s: %w", userID, err)
	}
	if !CheckPassword(hash, password) {
		return apperr.Invalid(field, "%s", wrong)
	}
	if err := s.limiter.Reset(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("Could not reset the password back-off.", "user_id", userID, "error", err)
	}
	return nil
}
