// Package ratelimit keeps filmroom's rate limits and failure back-offs in
// the database, so that every node behind a load balancer sees the same
// counts and a restarted node forgets nothing.
//
// Two kinds of limit exist:
//
//   - a Rate is a token bucket (implemented as GCRA, one timestamp per key):
//     Burst requests at once, then Count per Per on average. Writes, upload
//     creation and failed sign-ins per address and per email use it.
//   - a Backoff counts consecutive attempts of one key (a sign-in from one
//     address for one email, a user's guesses of their current password):
//     the first After attempts are free, then each further one must wait
//     Base, 2·Base, 4·Base, … up to Max. A success resets the key.
//
// Every check is one SQL statement on the hot path (an upsert of the key's
// row that also decides); only a refused check reads the row again to say
// how long to wait. Keys are hashed before they are stored, so the tables
// hold no email or address in the clear and a key's length is bounded.
//
// Limits: the counters are exact under concurrency on both dialects (the
// upsert takes the row lock), but they cost a write per check, so they
// suit requests that write anyway or that are expensive (password hashing),
// not every read.
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rate allows Burst events at once and Count per Per on average. The zero
// Rate (Count 0) means no limit.
type Rate struct {
	Count int
	Per   time.Duration
	Burst int
}

// Off reports whether the rate limits nothing.
func (r Rate) Off() bool { return r.Count <= 0 || r.Per <= 0 }

// interval is the time one event "costs".
func (r Rate) interval() time.Duration {
	iv := r.Per / time.Duration(r.Count)
	if iv <= 0 {
		iv = time.Millisecond
	}
	return iv
}

func (r Rate) burst() int {
	if r.Burst < 1 {
		return 1
	}
	return r.Burst
}

// String formats the rate as ParseRate reads it: "120/1m0s,60".
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return fmt.Sprintf("%d/%s,%d", r.Count, shortDuration(r.Per), r.burst())
}

// shortDuration writes whole hours, minutes and seconds as "1h", "10m",
// "30s" rather than time.Duration's "1h0m0s".
func shortDuration(d time.Duration) string {
	for _, u := range []struct {
		unit   time.Duration
		suffix string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.unit == 0 {
			return strconv.FormatInt(int64(d/u.unit), 10) + u.suffix
		}
	}
	return d.String()
}

// ParseRate reads "COUNT/PERIOD,BURST" (e.g. "120/1m,60": 120 a minute
// with bursts of 60), "COUNT/PERIOD" (burst COUNT), or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	bad := fmt.Errorf("%q is not a rate like 120/1m,60 (count/period,burst) or off", s)
	spec, burstText, hasBurst := strings.Cut(s, ",")
	countText, perText, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, bad
	}
	count, err := strconv.Atoi(strings.TrimSpace(countText))
	if err != nil || count <= 0 {
		return Rate{}, bad
	}
	per, err := time.ParseDuration(strings.TrimSpace(perText))
	if err != nil || per <= 0 {
		return Rate{}, bad
	}
	burst := count
	if hasBurst {
		if burst, err = strconv.Atoi(strings.TrimSpace(burstText)); err != nil || burst <= 0 {
			return Rate{}, bad
		}
	}
	return Rate{Count: count, Per: per, Burst: burst}, nil
}

// Backoff lets After attempts of a key through, then makes each further
// attempt wait Base, doubling up to Max. A key with no attempt for Forget
// starts again from zero. The zero Backoff (After 0) means no limit.
type Backoff struct {
	After  int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Off reports whether the back-off limits nothing.
func (b Backoff) Off() bool { return b.After <= 0 }

// Decision is the answer to one check.
type Decision struct {
	Allowed bool
	// RetryAfter is how long a refused caller should wait (at least 1s).
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, as the
// Retry-After header wants it.
func (d Decision) RetryAfterSeconds() int {
	s := int((d.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Limiter is where limits are counted. The SQL implementation is shared by
// every node on one database.
type Limiter interface {
	// Allow counts one event of key against r and says whether it may
	// happen. A refused event is not counted.
	Allow(ctx context.Context, key string, r Rate) (Decision, error)
	// Refund gives back one event Allow counted (the event turned out not
	// to count, such as a sign-in that succeeded).
	Refund(ctx context.Context, key string, r Rate) error
	// Attempt counts one attempt of key against b before the attempt is
	// made, and says whether it may be made now.
	Attempt(ctx context.Context, key string, b Backoff) (Decision, error)
	// Uncount takes back one attempt that Attempt counted but that was
	// never made (the server was too busy to check it).
	Uncount(ctx context.Context, key string) error
	// Reset forgets key's attempts (after a success).
	Reset(ctx context.Context, key string) error
	// Sweep deletes rows that no longer limit anything, and returns how
	// many; the server runs it in its housekeeping.
	Sweep(ctx context.Context, forget time.Duration) (int64, error)
}

// Key builds a stored key from a kind ("signin-pair") and its parts (an
// email, an address). The parts are hashed: the table holds no personal
// data in the clear, and a 1 MB "email" makes a 32-byte key.
func Key(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}
