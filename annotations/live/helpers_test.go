package live_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

var (
	_ annotations.Publisher = (*live.Hub)(nil)
	_ live.Bus              = (*bus.Memory)(nil)
	_ live.Bus              = (*bus.NATS)(nil)
)

// The people of every scenario. The owner may do everything; the coach is
// named in the audience (may host); the peer is in the audience group as a
// peer (may view and annotate, not host); the stranger may do nothing.
const (
	owner    = "owner"
	coach    = "coach"
	peer     = "peer"
	peer2    = "peer2"
	stranger = "stranger"
	group    = "g1"
)

var names = map[string]string{owner: "Olive Owner", coach: "Cora Coach", peer: "Pat Peer", peer2: "Paz Peer", stranger: "Sam Stranger"}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// policy authorizes with the real accounts.CanClip over fixed audiences.
type policy struct {
	mu    sync.Mutex
	clips map[string]accounts.ClipAccess
	// roles overrides users' roles in the group ("": not a member), as
	// accounts changes would (without telling any hub).
	roles map[string]accounts.Role
}

func (p *policy) setRole(user string, r accounts.Role) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.roles == nil {
		p.roles = map[string]accounts.Role{}
	}
	p.roles[user] = r
}

// removeFromGroup takes user out of the audience group.
func (p *policy) removeFromGroup(user string) { p.setRole(user, "") }

func (p *policy) Authorize(_ context.Context, a accounts.Actor, act accounts.Action, clipID string) error {
	p.mu.Lock()
	c, ok := p.clips[clipID]
	role, override := p.roles[a.UserID]
	p.mu.Unlock()
	m := accounts.Memberships{}
	if !override && (a.UserID == peer || a.UserID == peer2) {
		role = accounts.RolePeer
	}
	if role != "" {
		m[group] = role
	}
	if !ok || !accounts.CanClip(a, m, accounts.ClipView, c) {
		return apperr.NotFound("clip")
	}
	if !accounts.CanClip(a, m, act, c) {
		return apperr.Forbidden("you may not do this to this clip")
	}
	return nil
}

// store is a minimal annotation service standing in for the real one: a
// table of its own, idempotency keys, private notes, and the event of each
// change appended in the change's transaction, then published.
type store struct {
	db  *sqldb.DB
	pub annotations.Publisher
	az  *policy
}

type annInput struct {
	Text           string `json:"text"`
	StartMS        int64  `json:"start_ms"`
	Private        bool   `json:"private"`
	IdempotencyKey string `json:"idempotency_key"`
}

type annotation struct {
	ID       string `json:"id"`
	ClipID   string `json:"clip_id"`
	AuthorID string `json:"author_id"`
	Text     string `json:"text"`
	StartMS  int64  `json:"start_ms"`
	Private  bool   `json:"private"`
}

func newStore(t testing.TB, db *sqldb.DB, az *policy) *store {
	t.Helper()
	_, err := db.Writer().Exec(context.Background(), `CREATE TABLE IF NOT EXISTS live_test_annotations (
		id TEXT PRIMARY KEY, clip_id TEXT NOT NULL, author_id TEXT NOT NULL, body TEXT NOT NULL,
		idem_key TEXT NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, UNIQUE (clip_id, author_id, idem_key))`)
	if err != nil {
		t.Fatal(err)
	}
	return &store{db: db, az: az}
}

func (s *store) Create(ctx context.Context, a accounts.Actor, clipID string, body json.RawMessage) (json.RawMessage, error) {
	if err := s.az.Authorize(ctx, a, accounts.ClipAnnotate, clipID); err != nil {
		return nil, err
	}
	var in annInput
	if err := httpx.DecodeJSON(strings.NewReader(string(body)), &in, 1<<16); err != nil {
		return nil, err
	}
	if in.Text == "" {
		return nil, apperr.Invalid("text", "is required")
	}
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = id.New()
	}
	ann := annotation{ID: id.New(), ClipID: clipID, AuthorID: a.UserID, Text: in.Text, StartMS: in.StartMS, Private: in.Private}
	var evs []annotations.Event
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		var prior string
		err := q.QueryRow(ctx, `SELECT body FROM live_test_annotations WHERE clip_id = ? AND author_id = ? AND idem_key = ?`,
			clipID, a.UserID, in.IdempotencyKey).Scan(&prior)
		if err == nil {
			return json.Unmarshal([]byte(prior), &ann)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		data, _ := json.Marshal(ann)
		if _, err := q.Exec(ctx, `INSERT INTO live_test_annotations (id, clip_id, author_id, body, idem_key) VALUES (?, ?, ?, ?, ?)`,
			ann.ID, clipID, a.UserID, string(data), in.IdempotencyKey); err != nil {
			return err
		}
		e := annotations.Event{ClipID: clipID, Type: annotations.EventAnnotationCreated, ActorID: a.UserID, Data: data}
		if in.Private {
			e.OnlyUserID = a.UserID
		}
		e, err = annotations.AppendTx(ctx, q, e)
		evs = append(evs, e)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create annotation: %w", err)
	}
	for _, e := range evs {
		s.pub.Publish(ctx, e)
	}
	return json.Marshal(ann)
}

func (s *store) change(ctx context.Context, a accounts.Actor, clipID, annID string, fn func(*annotation) (string, bool)) (json.RawMessage, error) {
	var ann annotation
	var evs []annotations.Event
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		var body string
		err := q.QueryRow(ctx, `SELECT body FROM live_test_annotations WHERE id = ? AND clip_id = ? AND NOT deleted`, annID, clipID).Scan(&body)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("annotation")
		}
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(body), &ann); err != nil {
			return err
		}
		if ann.AuthorID != a.UserID {
			return apperr.Forbidden("only the author may change an annotation")
		}
		typ, deleted := fn(&ann)
		data, _ := json.Marshal(ann)
		if _, err := q.Exec(ctx, `UPDATE live_test_annotations SET body = ?, deleted = ? WHERE id = ?`, string(data), deleted, annID); err != nil {
			return err
		}
		e := annotations.Event{ClipID: clipID, Type: typ, ActorID: a.UserID, Data: data}
		if ann.Private {
			e.OnlyUserID = a.UserID
		}
		e, err = annotations.AppendTx(ctx, q, e)
		evs = append(evs, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, e := range evs {
		s.pub.Publish(ctx, e)
	}
	return json.Marshal(ann)
}

func (s *store) Update(ctx context.Context, a accounts.Actor, clipID, annID string, body json.RawMessage) (json.RawMessage, error) {
	var in struct {
		Text string `json:"text"`
	}
	if err := httpx.DecodeJSON(strings.NewReader(string(body)), &in, 1<<16); err != nil {
		return nil, err
	}
	return s.change(ctx, a, clipID, annID, func(x *annotation) (string, bool) {
		x.Text = in.Text
		return annotations.EventAnnotationUpdated, false
	})
}

func (s *store) Delete(ctx context.Context, a accounts.Actor, clipID, annID string) error {
	_, err := s.change(ctx, a, clipID, annID, func(*annotation) (string, bool) { return annotations.EventAnnotationDeleted, true })
	return err
}

// node is one filmroom node: a hub behind an HTTP server.
type node struct {
	hub   *live.Hub
	store *store
	srv   *httptest.Server
}

// env is a scenario: one database, one clip, one or more nodes.
type env struct {
	db    *sqldb.DB
	az    *policy
	clip  string
	nodes []*node
}

func seed(t testing.TB, db *sqldb.DB) (*policy, string) {
	t.Helper()
	ctx := context.Background()
	w := db.Writer()
	for _, u := range []string{owner, coach, peer, peer2, stranger} {
		if _, err := w.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', 0, 0)`, u, u+"@example.org", names[u]); err != nil {
			t.Fatal(err)
		}
	}
	clip := id.New()
	if _, err := w.Exec(ctx, `INSERT INTO clips (id, owner_id, title, status, created_at, updated_at) VALUES (?, ?, 'Lesson', 'ready', 0, 0)`, clip, owner); err != nil {
		t.Fatal(err)
	}
	return &policy{clips: map[string]accounts.ClipAccess{clip: {OwnerID: owner, UserIDs: []string{coach}, GroupIDs: []string{group}}}}, clip
}

// dbFor picks the databases a test runs on.
func databases(both bool) []testsvc.Database {
	dbs := testsvc.Databases(accounts.Migrations(), media.Migrations(), annotations.Migrations())
	if !both {
		return dbs[:1]
	}
	return dbs
}

func newEnv(t *testing.T, d testsvc.Database, cfg live.Config) *env {
	db := d.Open(t)
	az, clip := seed(t, db)
	e := &env{db: db, az: az, clip: clip}
	b := bus.NewMemory()
	t.Cleanup(func() { b.Close() })
	e.addNode(t, cfg, b)
	return e
}

// addNode starts another node on the same database with bus b.
func (e *env) addNode(t *testing.T, cfg live.Config, b live.Bus) *node {
	t.Helper()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	if cfg.HostGrace == 0 {
		cfg.HostGrace = -1
	}
	st := newStore(t, e.db, e.az)
	hub, err := live.New(cfg, live.Deps{DB: e.db, Bus: b, Authz: e.az, Annotator: st})
	if err != nil {
		t.Fatal(err)
	}
	st.pub = hub
	ec := echo.New()
	ec.HTTPErrorHandler = httpx.ErrorHandler(quietLog())
	g := ec.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if u := c.Request().Header.Get("X-Test-User"); u != "" {
				ctx := accounts.WithActor(c.Request().Context(), accounts.Actor{UserID: u, Name: names[u], Via: "session"})
				c.SetRequest(c.Request().WithContext(ctx))
			}
			return next(c)
		}
	})
	live.NewHandler(hub).Routes(g)
	srv := httptest.NewServer(ec)
	n := &node{hub: hub, store: st, srv: srv}
	t.Cleanup(func() {
		hub.Close()
		srv.Close()
	})
	e.nodes = append(e.nodes, n)
	return n
}

func (n *node) wsURL(clip string, query string) string {
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/api/clips/" + clip + "/live"
	if query != "" {
		u += "?" + query
	}
	return u
}

// msg is a decoded server message.
type msg map[string]any

func (m msg) typ() string { s, _ := m["type"].(string); return s }
func (m msg) str(k string) string {
	s, _ := m[k].(string)
	return s
}
func (m msg) num(k string) int64 { f, _ := m[k].(float64); return int64(f) }
func (m msg) obj(k string) msg {
	o, _ := m[k].(map[string]any)
	return msg(o)
}

// wsClient is a test client speaking the protocol.
type wsClient struct {
	t       testing.TB
	user    string
	conn    *websocket.Conn
	wmu     sync.Mutex
	welcome msg
}

func dial(t testing.TB, n *node, clip, user, query string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if user != "" {
		h.Set("X-Test-User", user)
	}
	return websocket.DefaultDialer.Dial(n.wsURL(clip, query), h)
}

// join connects and says hello (since may be nil), returning the client
// after the welcome.
func join(t testing.TB, n *node, clip, user string, since *int64) *wsClient {
	t.Helper()
	conn, resp, err := dial(t, n, clip, user, "")
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial as %s: %v (status %d)", user, err, status)
	}
	c := &wsClient{t: t, user: user, conn: conn}
	t.Cleanup(func() { conn.Close() })
	hello := map[string]any{"type": "hello", "v": 1}
	if since != nil {
		hello["since"] = *since
	}
	c.send(hello)
	c.welcome = c.next()
	if c.welcome.typ() != "welcome" {
		t.Fatalf("first message is %v, want welcome", c.welcome)
	}
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

func (c *wsClient) sendRaw(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.WriteMessage(websocket.TextMessage, b)
}

// next returns the next server message; a read error fails the test.
func (c *wsClient) next() msg {
	c.t.Helper()
	m, err := c.read()
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.user, err)
	}
	return m
}

func (c *wsClient) read() (msg, error) {
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("server sent bad JSON %q: %w", b, err)
	}
	return m, nil
}

// until reads until pred matches, returning the match.
func (c *wsClient) until(pred func(msg) bool) msg {
	c.t.Helper()
	for {
		m := c.next()
		if pred(m) {
			return m
		}
	}
}

func isType(t string) func(msg) bool { return func(m msg) bool { return m.typ() == t } }

func isEvent(kind string) func(msg) bool {
	return func(m msg) bool { return m.typ() == "event" && (kind == "" || m.str("event") == kind) }
}

// closeCode reads until the connection ends and returns the close code.
func (c *wsClient) closeCode() int {
	c.t.Helper()
	for {
		_, _, err := c.conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			c.t.Fatalf("%s: connection ended without a close frame: %v", c.user, err)
		}
	}
}

// eventually polls cond, yielding between tries; the test's -timeout is the
// only bound.
func eventually(cond func() bool) {
	for !cond() {
		time.Sleep(5 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }
