package bus

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// SubjectPrefix is prepended to the room name to form the NATS subject.
const SubjectPrefix = "filmroom.room."

// NATS is the bus over NATS core pub/sub: one subject per room, no
// persistence, messages delivered to every node subscribed at the time.
type NATS struct {
	nc   *nats.Conn
	owns bool
}

// NewNATS uses an existing connection; Close leaves it open.
func NewNATS(nc *nats.Conn) *NATS { return &NATS{nc: nc} }

// ConnectNATS dials url and returns a bus owning the connection (Close
// drains and closes it). The client reconnects forever: a NATS restart must
// not take live rooms down, and rooms repair missed events from the log.
func ConnectNATS(url, name string) (*NATS, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.Timeout(5*time.Second),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return &NATS{nc: nc, owns: true}, nil
}

// Publish sends msg to the room's subject. NATS buffers the write; an error
// means the connection is closed or the buffer is full while reconnecting.
func (b *NATS) Publish(ctx context.Context, room string, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to room %s: %w", room, err)
	}
	if err := validRoom(room); err != nil {
		return err
	}
	if err := b.nc.Publish(SubjectPrefix+room, msg); err != nil {
		return fmt.Errorf("publish to room %s: %w", room, err)
	}
	return nil
}

// Subscribe calls fn, on the subscription's own goroutine and in arrival
// order, for every message on the room's subject. The subscription is
// registered with the server before Subscribe returns, so a message
// published after it returns is received. After unsubscribe returns, fn is
// not called again.
func (b *NATS) Subscribe(room string, fn func([]byte)) (func(), error) {
	if err := validRoom(room); err != nil {
		return nil, err
	}
	var mu sync.Mutex // held while fn runs, so unsubscribe waits for a call in flight
	active := true
	sub, err := b.nc.Subscribe(SubjectPrefix+room, func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if active {
			fn(m.Data)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to room %s: %w", room, err)
	}
	// Without the round trip, a publish right after Subscribe (from this or
	// another connection) could reach the server before the interest does.
	// While the server is away (reconnecting) there is nobody to ask: the
	// client re-registers every subscription when it reconnects, so the
	// room opens and works locally meanwhile, and its log repair covers
	// what it missed.
	if b.nc.IsConnected() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := b.nc.FlushWithContext(ctx); err != nil && !b.nc.IsReconnecting() {
			_ = sub.Unsubscribe()
			return nil, fmt.Errorf("subscribe to room %s: flush: %w", room, err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = sub.Unsubscribe()
			mu.Lock()
			active = false
			mu.Unlock()
		})
	}, nil
}

// Connected reports whether the connection to the NATS server is up (it
// is down while the client reconnects).
func (b *NATS) Connected() bool { return b.nc.IsConnected() }

// Close flushes and closes the connection when the bus owns it.
func (b *NATS) Close() error {
	if !b.owns {
		return nil
	}
	err := b.nc.FlushTimeout(5 * time.Second)
	b.nc.Close()
	if err != nil && err != nats.ErrConnectionClosed {
		return fmt.Errorf("flush NATS connection: %w", err)
	}
	return nil
}
