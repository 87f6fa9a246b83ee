package accounts

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/ratelimit"
)

// Limits are the throttles on guessing passwords. They are counted in the
// database (internal/ratelimit), so every node shares them and a restart
// forgets none.
//
// The design goal is that nobody can lock a user out: the tight limit is
// on one email from one client address (the attacker's own pair), with a
// back-off instead of a lockout; the limits that cross addresses are far
// looser and only slow a spread-out attack down.
type Limits struct {
	// Pair limits attempts for one email from one client address: After
	// free attempts, then a doubling wait. A successful sign-in from the
	// pair resets it.
	Pair ratelimit.Backoff
	// Address limits failed sign-ins from one client address, any email
	// (a whole school often shares one address, so it is loose).
	Address ratelimit.Rate
	// Email limits failed sign-ins of one email from every address: the
	// ceiling on an attack spread over many addresses.
	Email ratelimit.Rate
	// Password limits a signed-in user's guesses of their current password
	// (POST /me/password).
	Password ratelimit.Backoff
}

// DefaultLimits are the limits a server uses unless configured otherwise.
func DefaultLimits() Limits {
	backoff := ratelimit.Backoff{After: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}
	return Limits{
		Pair:     backoff,
		Address:  ratelimit.Rate{Count: 20, Per: time.Minute, Burst: 100},
		Email:    ratelimit.Rate{Count: 30, Per: time.Hour, Burst: 100},
		Password: backoff,
	}
}

// hashSlots bounds how many argon2id hashes run at once: each takes 19 MiB
// and a core for tens of milliseconds, so running more at once than there
// are cores only multiplies memory without finishing sooner.
func hashSlots() chan struct{} { return make(chan struct{}, max(runtime.GOMAXPROCS(0), 1)) }

// DefaultHashWait is how long a request waits for a free hash slot before
// the server answers 503.
const DefaultHashWait = 2 * time.Second

// hashSlot waits up to HashWait for a slot; release frees it.
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(s.HashWait)
	defer t.Stop()
	select {
	case s.hashes <- struct{}{}:
		return func() { <-s.hashes }, nil
	case <-t.C:
		return nil, &apperr.Error{Kind: apperr.ErrUnavailable, Code: "busy", RetryAfter: time.Second,
			Message: "the server is checking many passwords at once; try again in a second"}
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to check a password: %w", ctx.Err())
	}
}

// signInAttempt is one sign-in counted against every limit before its
// password is hashed.
type signInAttempt struct {
	s                    *Service
	pair, address, email string
}

// countSignIn counts the attempt, or refuses it with how long to wait.
// The rates are checked first because they can be refunded exactly when a
// later limit refuses.
func (s *Service) countSignIn(ctx context.Context, email, clientIP string) (*signInAttempt, error) {
	a := &signInAttempt{s: s, pair: ratelimit.Key("signin-pair", email, clientIP),
		address: ratelimit.Key("signin-address", clientIP), email: ratelimit.Key("signin-email", email)}
	d, err := s.limiter.Allow(ctx, a.address, s.Limits.Address)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		return nil, tooManySignIns("from your network", d.RetryAfter)
	}
	if d, err = s.limiter.Allow(ctx, a.email, s.Limits.Email); err != nil || !d.Allowed {
		a.refundRates(ctx)
		if err != nil {
			return nil, err
		}
		return nil, tooManySignIns("for this account", d.RetryAfter)
	}
	if d, err = s.limiter.Attempt(ctx, a.pair, s.Limits.Pair); err != nil || !d.Allowed {
		a.refundRates(ctx)
		if err != nil {
			return nil, err
		}
		return nil, tooManySignIns("for this account from your network", d.RetryAfter)
	}
	return a, nil
}

// succeeded: a correct password costs nothing and resets the pair.
func (a *signInAttempt) succeeded(ctx context.Context) {
	a.refundRates(ctx)
	if err := a.s.limiter.Reset(context.WithoutCancel(ctx), a.pair); err != nil {
		a.s.log.Warn("Could not reset the sign-in back-off.", "error", err)
	}
}

// notChecked: the password was never hashed (the server was busy), so the
// attempt is taken back.
func (a *signInAttempt) notChecked(ctx context.Context) {
	a.refundRates(ctx)
	if err := a.s.limiter.Uncount(context.WithoutCancel(ctx), a.pair); err != nil {
		a.s.log.Warn("Could not take back a sign-in attempt.", "error", err)
	}
}

func (a *signInAttempt) refundRates(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if err := a.s.limiter.Refund(ctx, a.address, a.s.Limits.Address); err != nil {
		a.s.log.Warn("Could not refund a sign-in attempt.", "error", err)
	}
	if err := a.s.limiter.Refund(ctx, a.email, a.s.Limits.Email); err != nil {
		a.s.log.Warn("Could not refund a sign-in attempt.", "error", err)
	}
}

func tooManySignIns(scope string, wait time.Duration) error {
	return apperr.TooManyRequests("too_many_attempts",
		fmt.Sprintf("too many failed sign-ins %s; wait %s and try again, or ask an admin to reset your password", scope, waitText(wait)), wait)
}

// waitText says a wait the way a person would: "3 seconds", "2 minutes".
func waitText(d time.Duration) string {
	secs := int((d + time.Second - 1) / time.Second)
	switch {
	case secs <= 1:
		return "1 second"
	case secs < 120:
		return fmt.Sprintf("%d seconds", secs)
	default:
		return fmt.Sprintf("%d minutes", (secs+59)/60)
	}
}
