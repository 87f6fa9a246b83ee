package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by a bus that has been closed.
var ErrClosed = errors.New("bus closed")

// MemoryPending is how many messages a Memory subscription holds before it
// drops new ones, as a NATS slow consumer would.
const MemoryPending = 1 << 16

// Memory is the in-process bus. Like NATS, each subscription has its own
// goroutine and queue: Publish never waits for a subscriber, a subscriber
// may publish from its callback, and messages from one publisher arrive in
// order. A subscription that falls MemoryPending messages behind drops
// new ones (counted in Dropped).
type Memory struct {
	mu      sync.RWMutex
	rooms   map[string][]*memSub
	closed  bool
	dropped atomic.Int64
}

type memSub struct {
	mu     sync.Mutex // guards queue and active
	cond   *sync.Cond
	queue  [][]byte
	active bool

	callMu  sync.Mutex // held while fn runs, so stop waits for a call in flight
	calling bool       // guarded by callMu: false once stopped
	fn      func([]byte)
}

// Dropped counts messages dropped because a subscription was too far behind.
func (m *Memory) Dropped() int64 { return m.dropped.Load() }

// NewMemory returns an empty in-process bus.
func NewMemory() *Memory {
	return &Memory{rooms: map[string][]*memSub{}}
}

// Publish queues a copy of msg to every current subscriber of room.
func (m *Memory) Publish(ctx context.Context, room string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to room %s: %w", room, err)
	}
	if err := validRoom(room); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return fmt.Errorf("publish to room %s: %w", room, ErrClosed)
	}
	for _, s := range m.rooms[room] {
		// Each subscriber gets its own copy: NATS hands out fresh buffers
		// too, and a subscriber may keep what it receives.
		cp := append([]byte(nil), msg...)
		s.mu.Lock()
		if len(s.queue) < MemoryPending {
			s.queue = append(s.queue, cp)
			s.cond.Signal()
		} else {
			m.dropped.Add(1)
		}
		s.mu.Unlock()
	}
	return nil
}

// Subscribe calls fn, on the subscription's own goroutine and in order, for
// every message published to room until unsubscribe. After unsubscribe
// returns, fn is not called again; fn must not call unsubscribe itself.
func (m *Memory) Subscribe(room string, fn func([]byte)) (func(), error) {
	if err := validRoom(room); err != nil {
		return nil, err
	}
	s := &memSub{fn: fn, active: true, calling: true}
	s.cond = sync.NewCond(&s.mu)
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("subscribe to room %s: %w", room, ErrClosed)
	}
	m.rooms[room] = append(m.rooms[room], s)
	m.mu.Unlock()
	go s.run()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.remove(room, s)
			m.mu.Unlock()
			s.stop()
		})
	}, nil
}

func (s *memSub) run() {
	for {
		s.mu.Lock()
		for s.active && len(s.queue) == 0 {
			s.cond.Wait()
		}
		if !s.active {
			s.mu.Unlock()
			return
		}
		msg := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		s.mu.Unlock()
		s.callMu.Lock()
		if s.calling {
			s.fn(msg)
		}
		s.callMu.Unlock()
	}
}

// stop ends the subscription: a call in flight finishes before stop
// returns, and none starts after.
func (s *memSub) stop() {
	s.mu.Lock()
	s.active = false
	s.queue = nil
	s.cond.Signal()
	s.mu.Unlock()
	s.callMu.Lock()
	s.calling = false
	s.callMu.Unlock()
}

func (m *Memory) remove(room string, s *memSub) {
	subs := m.rooms[room]
	for i, x := range subs {
		if x == s {
			subs = append(subs[:i:i], subs[i+1:]...)
			break
		}
	}
	if len(subs) == 0 {
		delete(m.rooms, room)
	} else {
		m.rooms[room] = subs
	}
}

// Close stops every subscription; later calls fail with ErrClosed.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	var all []*memSub
	for _, subs := range m.rooms {
		all = append(all, subs...)
	}
	m.rooms = map[string][]*memSub{}
	m.mu.Unlock()
	for _, s := range all {
		s.stop()
	}
	return nil
}

// validRoom rejects names that would not be one NATS subject token, so the
// two implementations accept exactly the same rooms.
func validRoom(room string) error {
	if room == "" || strings.ContainsAny(room, ".*> \t\r\n") {
		return fmt.Errorf("room name %q: must be one non-empty token without '.', '*', '>' or spaces", room)
	}
	return nil
}
