package accounts

import (
	"sync"
	"time"
)

// Throttle counts recent failures per key (an email, a client address) and
// blocks a key that failed too often within a window. It keeps at most
// maxKeys keys, forgetting the oldest, so a flood of random keys cannot
// exhaust memory.
type Throttle struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	now     func() time.Time
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures []time.Time
}

const maxThrottleKeys = 100_000

// NewThrottle allows limit failures per key within window.
func NewThrottle(limit int, window time.Duration, now func() time.Time) *Throttle {
	return &Throttle{limit: limit, window: window, now: now, entries: map[string]*throttleEntry{}}
}

func (t *Throttle) recent(e *throttleEntry, now time.Time) []time.Time {
	keep := e.failures[:0]
	for _, f := range e.failures {
		if now.Sub(f) < t.window {
			keep = append(keep, f)
		}
	}
	e.failures = keep
	return keep
}

// Blocked returns how long until the most blocked key may try again, or 0.
func (t *Throttle) Blocked(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	for _, k := range keys {
		e, ok := t.entries[k]
		if !ok {
			continue
		}
		if f := t.recent(e, now); len(f) >= t.limit {
			if w := t.window - now.Sub(f[len(f)-t.limit]); w > wait {
				wait = w
			}
		}
	}
	return wait
}

// Fail records a failure for each key.
func (t *Throttle) Fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if len(t.entries) >= maxThrottleKeys {
		for k, e := range t.entries {
			if len(t.recent(e, now)) == 0 {
				delete(t.entries, k)
			}
		}
		if len(t.entries) >= maxThrottleKeys {
			t.entries = map[string]*throttleEntry{}
		}
	}
	for _, k := range keys {
		e := t.entries[k]
		if e == nil {
			e = &throttleEntry{}
			t.entries[k] = e
		}
		e.failures = append(t.recent(e, now), now)
		// Only the last limit failures matter for blocking.
		if len(e.failures) > t.limit {
			e.failures = e.failures[len(e.failures)-t.limit:]
		}
	}
}

// Reset forgets a key's failures (after a successful sign-in).
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}
