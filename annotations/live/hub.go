package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Bus carries room messages between nodes. Subscribe's callback may run on
// any goroutine; after unsubscribe returns it is not called again. Both
// implementations live in package bus.
type Bus interface {
	Publish(ctx context.Context, room string, msg []byte) error
	Subscribe(room string, fn func([]byte)) (unsubscribe func(), err error)
	Close() error
}

// Authorizer decides what an actor may do to a clip; it returns an apperr
// NotFound (the clip does not exist or may not be seen) or Forbidden error
// when the action is refused.
type Authorizer interface {
	Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) error
}

// Annotator changes annotations for socket clients. The bodies are the JSON
// of the REST API's POST and PATCH; the result is the annotation as the REST
// API returns it. Implementations check permissions themselves, append the
// change's event in the same transaction, and call the hub's Publish.
type Annotator interface {
	Create(ctx context.Context, a accounts.Actor, clipID string, body json.RawMessage) (json.RawMessage, error)
	Update(ctx context.Context, a accounts.Actor, clipID, annID string, body json.RawMessage) (json.RawMessage, error)
	Delete(ctx context.Context, a accounts.Actor, clipID, annID string) error
}

// Config tunes the hub; zero fields take the defaults in withDefaults.
type Config struct {
	// AllowedOrigins are the browser origins (scheme://host[:port]) that may
	// open a socket besides the server's own. A request without Origin
	// (native clients, bearer tokens) is allowed.
	AllowedOrigins []string
	// NodeID names this node on the bus (random when empty).
	NodeID string

	SendQueue       int           // messages queued per connection (256)
	RingSize        int           // events kept per room for replay (1000)
	MaxReplay       int           // most events replayed to one client (10000)
	MaxMessageBytes int64         // largest client message (64 KiB)
	RatePerSecond   float64       // client messages per second (20)
	RateBurst       int           // burst allowance (40)
	MaxBadMessages  int           // malformed/unknown messages before close (10)
	HelloWait       time.Duration // time to send hello (10 s)
	PingInterval    time.Duration // websocket ping period (25 s)
	PongWait        time.Duration // read deadline after each pong (60 s)
	WriteWait       time.Duration // deadline of each write (10 s)
	// RepairInterval is how often a room compares its seq with the log
	// head and re-announces its members on the bus (10 s).
	RepairInterval time.Duration
	// HostGrace is how long a session waits for its host to come back
	// (a page reload) before handing off or ending (10 s).
	HostGrace time.Duration

	// MaxConnsPerUser caps one user's sockets on this node (8); one more
	// is refused before the upgrade with 429 too_many_connections.
	MaxConnsPerUser int
	// UserRatePerSecond and UserRateBurst limit the messages of all of one
	// user's sockets on this node together (40/s, burst 80), so opening
	// more sockets does not multiply the per-socket limit.
	UserRatePerSecond float64
	UserRateBurst     int
	// AccessCheckInterval is how often every connection is re-authorized
	// (credential and clip access), a safety net for access changes that
	// reached no AccessChanged call (30 s).
	AccessCheckInterval time.Duration

	// Now is the clock (time.Now); tests swap it.
	Now func() time.Time
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt(&c.SendQueue, 256)
	defInt(&c.RingSize, 1000)
	defInt(&c.MaxReplay, 10000)
	defInt(&c.RateBurst, 40)
	defInt(&c.MaxBadMessages, 10)
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = 20
	}
	defDur(&c.HelloWait, 10*time.Second)
	defDur(&c.PingInterval, 25*time.Second)
	defDur(&c.PongWait, 60*time.Second)
	defDur(&c.WriteWait, 10*time.Second)
	defDur(&c.RepairInterval, 10*time.Second)
	defDur(&c.AccessCheckInterval, 30*time.Second)
	defInt(&c.MaxConnsPerUser, 8)
	defInt(&c.UserRateBurst, 2*c.RateBurst)
	if c.UserRatePerSecond <= 0 {
		c.UserRatePerSecond = 2 * c.RatePerSecond
	}
	if c.HostGrace < 0 {
		c.HostGrace = 0
	} else if c.HostGrace == 0 {
		c.HostGrace = 10 * time.Second
	}
	if c.NodeID == "" {
		c.NodeID = id.New()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// FeedbackGate says whether others' feedback on a clip is hidden from a
// viewer (the owner, while "reflect first" waits for their reflection).
// The annotations service satisfies it through a small adapter.
type FeedbackGate interface {
	HidesFeedback(ctx context.Context, a accounts.Actor, clipID string) (bool, error)
}

// Deps are the hub's collaborators.
type Deps struct {
	DB        *sqldb.DB // the clip event log lives here
	Bus       Bus       // the caller closes it after Hub.Close
	Authz     Authorizer
	Annotator Annotator
	// Feedback, when set, keeps others' annotations and replies from a
	// viewer whose feedback is hidden (reflect first).
	Feedback FeedbackGate
	// Credentials, when set, re-checks that the session or token a socket
	// was opened with still holds (accounts.Service satisfies it); without
	// it only clip access is re-checked.
	Credentials CredentialChecker
}

// CredentialChecker says whether what authenticated an actor (its
// Credential) still holds: nil while it does, an apperr Unauthorized
// error once it was signed out, expired or deleted, any other error when
// it cannot tell.
type CredentialChecker interface {
	CheckCredential(ctx context.Context, a accounts.Actor) error
}

// Hub owns the live rooms of this node. It implements annotations'
// Publisher, so changes made through the REST API reach the rooms.
type Hub struct {
	cfg    Config
	log    *slog.Logger
	events *annotations.EventLog
	synlog syncLog
	bus    Bus
	authz  Authorizer
	ann    Annotator
	gate   FeedbackGate
	creds  CredentialChecker
	ctx    context.Context // cancelled by Close: ends every connection's work
	cancel context.CancelFunc

	mu      sync.Mutex
	rooms   map[string]*room
	clients map[*client]struct{}
	users   map[string]*userState // by user ID, while the user has sockets here
	closed  bool

	// Access re-checks: an access change holds the connections it
	// concerns (nothing more is sent to them) and puts them in pending for
	// the access loop, which re-checks and releases or closes each.
	// accessGen counts changes, so a connection authorized before a change
	// it raced with is re-checked once registered.
	pmu         sync.Mutex
	pending     map[*client]struct{}
	wakeCheck   chan struct{} // capacity 1
	accessGen   atomic.Int64
	unsubAccess func()

	conns sync.WaitGroup // connection goroutines
	bg    sync.WaitGroup // repair loop
	stats stats
}

// New returns a running hub. Close it before closing the bus and database.
func New(cfg Config, d Deps) (*Hub, error) {
	if d.DB == nil || d.Bus == nil || d.Authz == nil || d.Annotator == nil {
		return nil, errors.New("live hub: DB, Bus, Authz and Annotator are all required")
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{
		cfg:       cfg,
		log:       cfg.Log.With("component", "live", "node_id", cfg.NodeID),
		events:    annotations.NewEventLog(d.DB),
		synlog:    syncLog{db: d.DB},
		bus:       d.Bus,
		authz:     d.Authz,
		ann:       d.Annotator,
		gate:      d.Feedback,
		creds:     d.Credentials,
		ctx:       ctx,
		cancel:    cancel,
		rooms:     map[string]*room{},
		clients:   map[*client]struct{}{},
		users:     map[string]*userState{},
		pending:   map[*client]struct{}{},
		wakeCheck: make(chan struct{}, 1),
	}
	h.stats.closes = map[int]int64{}
	unsub, err := d.Bus.Subscribe(accessRoom, h.onAccessBus)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("live hub: subscribe to access changes: %w", err)
	}
	h.unsubAccess = unsub
	h.bg.Add(2)
	go h.repairLoop()
	go h.accessLoop()
	return h, nil
}

// Publish delivers a committed event to this node's room for the clip and to
// every other node through the bus. It never fails the caller's change: the
// event is already durable, and rooms that miss it repair from the log.
func (h *Hub) Publish(ctx context.Context, e annotations.Event) {
	if r := h.lookup(e.ClipID); r != nil {
		r.ingest(ctx, e)
	}
	h.publish(ctx, e.ClipID, envelope{Kind: kindEvent, Event: toWire(e)})
	if rec, ok := ctx.Value(seqRecorderKey{}).(*seqRecorder); ok {
		rec.record(e)
	}
}

// PublishEvent announces a committed event on a bus from a process that
// runs no hub (a media worker), so the rooms on every node deliver it at
// once instead of at their next repair. node names the sender; it must
// differ from every hub's NodeID.
func PublishEvent(ctx context.Context, b Bus, node string, e annotations.Event) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return b.Publish(ctx, e.ClipID, mustJSON(envelope{Node: node, Kind: kindEvent, Event: toWire(e)}))
}

// Close disconnects every client with 1001 (going away), waits for their
// goroutines and stops the repair loop. It does not close the bus.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	cs := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		cs = append(cs, c)
	}
	h.mu.Unlock()
	for _, c := range cs {
		c.kill(closeGoingAway, "server shutting down")
	}
	h.cancel()
	h.unsubAccess()
	h.conns.Wait()
	h.bg.Wait()
	return nil
}

// Stats is a snapshot of the hub for metrics and tests.
type Stats struct {
	Rooms   int
	Clients int
	// Closes counts connections the server closed, by close code.
	Closes map[int]int64
	// Delivered counts messages queued to clients.
	Delivered int64
	// GapReads counts reads of the event log made because an event
	// arrived ahead of its predecessor (out of order on the bus, or a bus
	// message lost); RepairReads those made by the periodic repair.
	GapReads, RepairReads int64
}

type stats struct {
	mu          sync.Mutex
	closes      map[int]int64
	delivered   int64
	gapReads    int64
	repairReads int64
}

// Stats returns current counts.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	s := Stats{Rooms: len(h.rooms), Clients: len(h.clients)}
	h.mu.Unlock()
	h.stats.mu.Lock()
	defer h.stats.mu.Unlock()
	s.Closes = make(map[int]int64, len(h.stats.closes))
	for k, v := range h.stats.closes {
		s.Closes[k] = v
	}
	s.Delivered = h.stats.delivered
	s.GapReads, s.RepairReads = h.stats.gapReads, h.stats.repairReads
	return s
}

// RoomMembers returns the members of the clip's room that this node knows
// (its own and other nodes'), or nil when it has no room for the clip.
func (h *Hub) RoomMembers(clipID string) []Member {
	r := h.lookup(clipID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.membersLocked()
}

func (h *Hub) countClose(code int) {
	h.stats.mu.Lock()
	h.stats.closes[code]++
	h.stats.mu.Unlock()
}

func (h *Hub) lookup(clipID string) *room {
	h.mu.Lock()
	r := h.rooms[clipID]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.ready:
		if r.initErr != nil {
			return nil
		}
		return r
	default:
		// Still loading: its head read happens after its subscription,
		// so the event reaches it through the bus.
		return nil
	}
}

// acquire returns the clip's room, creating and loading it on first use,
// and counts the caller as a user of it until release.
func (h *Hub) acquire(ctx context.Context, clipID string) (*room, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("live hub is closed")
	}
	r, ok := h.rooms[clipID]
	if !ok {
		r = newRoom(h, clipID)
		h.rooms[clipID] = r
	}
	r.refs++
	h.mu.Unlock()
	if !ok {
		r.initErr = r.load(ctx)
		close(r.ready)
	}
	<-r.ready
	if r.initErr != nil {
		h.release(r)
		return nil, r.initErr
	}
	return r, nil
}

// release drops one use of the room and the room itself with the last.
func (h *Hub) release(r *room) {
	h.mu.Lock()
	r.refs--
	drop := r.refs == 0
	if drop && h.rooms[r.clipID] == r {
		delete(h.rooms, r.clipID)
	}
	h.mu.Unlock()
	if drop {
		r.close()
	}
}

// publish sends an envelope to the other nodes; failures are logged, since
// events are repaired from the log and presence is refreshed periodically.
func (h *Hub) publish(ctx context.Context, clipID string, env envelope) {
	h.publishOn(ctx, clipID, env)
}

// publishOn sends an envelope to a bus room (a clip's, or accessRoom).
func (h *Hub) publishOn(ctx context.Context, busRoom string, env envelope) {
	env.Node = h.cfg.NodeID
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.bus.Publish(ctx, busRoom, mustJSON(env)); err != nil {
		h.log.Warn("Could not publish a room message on the bus.", "room", busRoom, "kind", env.Kind, "error", err)
	}
}

// repairLoop periodically catches every room up with the log head (events
// the bus lost), re-announces members and expires other nodes' members that
// stopped announcing.
func (h *Hub) repairLoop() {
	defer h.bg.Done()
	t := time.NewTicker(h.cfg.RepairInterval)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		rooms := make([]*room, 0, len(h.rooms))
		for _, r := range h.rooms {
			rooms = append(rooms, r)
		}
		h.mu.Unlock()
		for _, r := range rooms {
			select {
			case <-r.ready:
			default:
				continue
			}
			if r.initErr != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
			if err := r.repair(ctx); err != nil && h.ctx.Err() == nil {
				h.log.Warn("Could not catch a room up with the event log.", "clip_id", r.clipID, "error", err)
			}
			cancel()
			r.announce(h.ctx)
			r.expireRemote(3 * h.cfg.RepairInterval)
		}
	}
}

// seqRecorder captures the seq of the event an Annotator call published,
// so the socket's ack can carry it.
type seqRecorder struct {
	mu  sync.Mutex
	seq int64
}

type seqRecorderKey struct{}

func (r *seqRecorder) record(e annotations.Event) {
	r.mu.Lock()
	if e.Seq > r.seq {
		r.seq = e.Seq
	}
	r.mu.Unlock()
}

func (r *seqRecorder) get() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// Bus envelope kinds.
const (
	kindEvent      = "event"      // a committed log event
	kindPresence   = "presence"   // op join/leave/update of one member
	kindRoster     = "roster"     // all members of a node, periodically and on request
	kindRosterReq  = "roster.req" // a node that just opened the room asks for rosters
	kindRelay      = "relay"      // an encoded client message for every local member (pointer, sync.requested)
	kindAccess     = "access"     // an accounts.AccessChange, on accessRoom
	closeGoingAway = 1001
)

// envelope is what travels on the bus.
type envelope struct {
	Node    string                 `json:"node"`
	Kind    string                 `json:"kind"`
	Event   *wireEvent             `json:"event,omitempty"`
	Op      string                 `json:"op,omitempty"`
	Member  *Member                `json:"member,omitempty"`
	Members []Member               `json:"members,omitempty"`
	Payload json.RawMessage        `json:"payload,omitempty"`
	Access  *accounts.AccessChange `json:"access,omitempty"`
}

// wireEvent is annotations.Event with the recipient restriction kept (the
// event's own JSON hides it from clients).
type wireEvent struct {
	ClipID     string          `json:"clip_id"`
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	ActorID    string          `json:"actor_id,omitempty"`
	OnlyUserID string          `json:"only_user_id,omitempty"`
	At         time.Time       `json:"at"`
	Data       json.RawMessage `json:"data"`
}

func toWire(e annotations.Event) *wireEvent {
	w := wireEvent(e)
	return &w
}

func (w *wireEvent) event() annotations.Event { return annotations.Event(*w) }
