package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/id"
)

// client is one websocket connection, modelled on gotify's stream client:
// a reader goroutine reads, a writer goroutine owns every write, and the
// two meet only through the bounded send queue and the done channel.
//
// Memory: most connections are idle most of the time, so an idle client
// holds as little as possible: the send queue is a slice that is nil while
// empty (not a channel of SendQueue slots), the write buffer comes from a
// pool for the duration of a write, and the HTTP handler returns as soon as
// the socket is upgraded, releasing the request and its buffers.
type client struct {
	hub    *Hub
	room   *room // set before the join, used by the connection's goroutines
	conn   *websocket.Conn
	actor  accounts.Actor
	clipID string
	// joined is room once the client has joined it, for the access loop.
	joined atomic.Pointer[room]
	// user is the budget shared by this user's sockets on this node.
	user   *userState
	member Member // guarded by room.mu once the client has joined
	// hideOthers keeps others' annotations and replies from this viewer
	// (reflect first); set at connection time, never changed.
	hideOthers bool

	qmu   sync.Mutex
	queue [][]byte      // messages not yet written, oldest first; nil when empty
	wake  chan struct{} // capacity 1: there is something in queue
	// held counts access re-checks in flight; while it is above zero new
	// messages wait in heldQ, so nothing reaches a connection that may
	// have lost access until it has been re-checked.
	held     int
	heldQ    [][]byte
	heldDone chan struct{} // closed when held drops back to zero

	closeOnce sync.Once
	done      chan struct{} // closed by kill
	closeCode int
	closeText string

	readerDone chan struct{}
	limiter    tokenBucket
	strikes    int // messages dropped over the rate limit in a row
	bad        int // malformed or unknown messages
}

// closePeerGone is kill's code when the peer closed or the connection
// broke: there is nobody left to send a close frame to.
const closePeerGone = 0

// kill asks the writer to send a close frame with code and hang up. It never
// blocks, so the room may call it while holding its lock.
func (c *client) kill(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
		if code != closePeerGone {
			c.hub.countClose(code)
		}
	})
}

// enqueue queues msg without blocking; a full queue (SendQueue messages
// not yet written) disconnects the client, which resumes with since: a
// slow client never stalls the room.
func (c *client) enqueue(msg []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	c.qmu.Lock()
	if len(c.queue)+len(c.heldQ) >= c.hub.cfg.SendQueue {
		c.qmu.Unlock()
		c.kill(CloseTooSlow, "too slow, resume with since")
		return
	}
	if c.held > 0 {
		c.heldQ = append(c.heldQ, msg)
		c.qmu.Unlock()
		return
	}
	c.queue = append(c.queue, msg)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default: // the writer has been woken already
	}
}

// hold keeps new messages from c until release.
func (c *client) hold() {
	c.qmu.Lock()
	if c.held == 0 {
		c.heldDone = make(chan struct{})
	}
	c.held++
	c.qmu.Unlock()
}

// waitUnheld returns once c is not held (or was killed): the welcome and
// the replay, written directly rather than queued, wait for a re-check in
// flight too.
func (c *client) waitUnheld() {
	c.qmu.Lock()
	held, ch := c.held, c.heldDone
	c.qmu.Unlock()
	if held > 0 {
		select {
		case <-ch:
		case <-c.done:
		}
	}
}

// release ends one hold; the last one passes the held messages on (ok) or
// drops them (the connection lost access and is being closed).
func (c *client) release(ok bool) {
	c.qmu.Lock()
	c.held--
	wake := false
	if c.held == 0 {
		if ok && len(c.heldQ) > 0 {
			c.queue = append(c.queue, c.heldQ...)
			wake = true
		}
		c.heldQ = nil
		close(c.heldDone)
	}
	c.qmu.Unlock()
	if wake {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// next takes the oldest queued message; ok is false when there is none.
// An emptied queue is dropped, so an idle client keeps no backing array.
func (c *client) next() (msg []byte, ok bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if len(c.queue) == 0 {
		return nil, false
	}
	msg = c.queue[0]
	c.queue[0] = nil
	c.queue = c.queue[1:]
	if len(c.queue) == 0 {
		c.queue = nil
	}
	return msg, true
}

// serve runs a connection from hello to hang-up, on a goroutine of its own
// (not the HTTP handler's, whose request and buffers are released once the
// socket is upgraded). The caller has counted it in h.conns and reserved
// it in user (released here). gen is h.accessGen when the handler began
// to authorize: a change since then may have raced with that check.
func (h *Hub) serve(conn *websocket.Conn, actor accounts.Actor, clipID string, caps Member, since *int64, hideOthers bool, user *userState, gen int64) {
	defer h.conns.Done()
	defer h.releaseConn(actor.UserID)
	c := &client{
		hub: h, conn: conn, actor: actor, clipID: clipID, user: user,
		member:     caps,
		hideOthers: hideOthers,
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		limiter:    newTokenBucket(h.cfg.RatePerSecond, h.cfg.RateBurst, h.cfg.Now()),
	}
	c.member.ConnID = id.New()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
	}()
	if h.accessGen.Load() != gen {
		h.noteAccessChange(accounts.AccessChange{UserID: actor.UserID, ClipID: clipID})
	}

	conn.SetReadLimit(h.cfg.MaxMessageBytes)
	hello, ok := c.readHello(since)
	if !ok {
		return
	}
	if c.stopped() {
		// Access was revoked while the client said hello.
		c.closeNow(c.closeCode, c.closeText)
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	r, err := h.acquire(ctx, clipID)
	if err != nil {
		cancel()
		h.log.Error("Could not open a live room.", "clip_id", clipID, "error", err)
		c.closeNow(websocket.CloseInternalServerErr, "room unavailable, retry")
		return
	}
	c.room = r
	res, err := r.join(ctx, c, hello)
	cancel()
	if err != nil {
		h.log.Error("Could not join a live room.", "clip_id", clipID, "error", err)
		r.leave(c)
		h.release(r)
		c.closeNow(websocket.CloseInternalServerErr, "room unavailable, retry")
		return
	}
	c.joined.Store(r)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(res)
	}()
	c.readLoop()
	close(c.readerDone)
	<-writerDone
	r.leave(c)
	h.release(r)
}

// readHello waits for the first message, which must be a hello of our
// version; its since wins over the URL's.
func (c *client) readHello(urlSince *int64) (*int64, bool) {
	c.conn.SetReadDeadline(time.Now().Add(c.hub.cfg.HelloWait))
	typ, data, err := c.conn.ReadMessage()
	if err != nil {
		c.closeAfterReadError(err)
		return nil, false
	}
	if typ != websocket.TextMessage {
		c.closeNow(websocket.CloseUnsupportedData, "text frames only")
		return nil, false
	}
	m, err := DecodeClientMessage(data)
	if err != nil || m.Type != MsgHello {
		c.closeNow(CloseProtocol, "send hello first")
		return nil, false
	}
	if m.V != ProtocolVersion {
		c.closeNow(CloseProtocol, "unsupported protocol version; this server speaks v1")
		return nil, false
	}
	if m.Since != nil {
		return m.Since, true
	}
	return urlSince, true
}

// stopped reports whether kill was called.
func (c *client) stopped() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeNow sends a close frame and hangs up; only for before the writer
// runs. A code kill chose was counted there.
func (c *client) closeNow(code int, text string) {
	if !c.stopped() {
		c.hub.countClose(code)
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.conn.Close()
}

func (c *client) closeAfterReadError(err error) {
	var ce *websocket.CloseError
	if errors.As(err, &ce) || errors.Is(err, websocket.ErrReadLimit) {
		// The peer closed, or gorilla already sent 1009.
		if errors.Is(err, websocket.ErrReadLimit) {
			c.hub.countClose(websocket.CloseMessageTooBig)
		}
		_ = c.conn.Close()
		return
	}
	c.closeNow(CloseProtocol, "send hello first")
}

// readLoop reads client messages until the connection ends. After kill it
// keeps reading (and discarding) until the peer answers the close frame, so
// the hang-up never resets a connection with unread data in flight.
func (c *client) readLoop() {
	conn := c.conn
	conn.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
	})
	for {
		typ, data, err := conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.kill(websocket.CloseMessageTooBig, "message too big")
			} else {
				c.kill(closePeerGone, "")
			}
			return
		}
		select {
		case <-c.done:
			continue
		default:
		}
		if typ != websocket.TextMessage {
			c.kill(websocket.CloseUnsupportedData, "text frames only")
			continue
		}
		c.handle(data)
	}
}

// writeLoop writes the welcome, the replay and then the queue, and pings.
func (c *client) writeLoop(res joinResult) {
	conn := c.conn
	cfg := c.hub.cfg
	defer conn.Close()
	write := func(msg []byte) bool {
		conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			c.kill(closePeerGone, "")
			return false
		}
		return true
	}
	stopped := c.stopped
	// A client whose access was revoked while it joined gets no welcome.
	c.waitUnheld()
	ok := !stopped() && write(res.welcome)
	if ok && res.notice != nil {
		ok = write(res.notice)
	}
	for _, e := range res.replay {
		if !ok || stopped() {
			break
		}
		ok = write(encodeEvent(e))
	}
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	for ok && !stopped() {
		select {
		case <-c.done:
		case <-c.wake:
			for ok && !stopped() {
				msg, more := c.next()
				if !more {
					break
				}
				ok = write(msg)
			}
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteWait)); err != nil {
				c.kill(closePeerGone, "")
				ok = false
			}
		}
	}
	<-c.done
	if c.closeCode == closePeerGone {
		return
	}
	if c.closeCode != CloseTooSlow {
		// Flush what is queued (the error that explains the close, say);
		// the queue is bounded, and so is each write.
		for flushing := ok; flushing; {
			msg, more := c.next()
			flushing = more && write(msg)
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
	// Give the peer a moment to answer the close frame, then hang up.
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
}

// handle acts on one text frame.
func (c *client) handle(data []byte) {
	now := c.hub.cfg.Now()
	mine, all := c.limiter.allow(now), true
	if mine && c.user != nil {
		// The user's budget is taken only for messages within the
		// socket's own, so one flooding socket cannot starve the others
		// beyond its own allowance.
		all = c.user.allow(now)
	}
	if !mine || !all {
		c.strikes++
		if c.strikes == 1 && !mine {
			c.errorf("", "rate_limited", "slow down: at most %g messages a second (burst %d); this message was dropped", c.hub.cfg.RatePerSecond, c.hub.cfg.RateBurst)
		} else if c.strikes == 1 {
			c.errorf("", "rate_limited", "slow down: your connections together may send at most %g messages a second (burst %d); this message was dropped", c.hub.cfg.UserRatePerSecond, c.hub.cfg.UserRateBurst)
		}
		if c.strikes > c.hub.cfg.RateBurst/4 {
			c.kill(CloseRateLimited, "rate limit exceeded")
		}
		return
	}
	c.strikes = 0
	m, err := DecodeClientMessage(data)
	if err != nil {
		c.bad++
		if c.bad > c.hub.cfg.MaxBadMessages {
			c.kill(CloseBadMessages, "too many malformed messages")
			return
		}
		c.sendError(m.Ref, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.hub.ctx, 30*time.Second)
	defer cancel()
	r := c.room
	switch m.Type {
	case MsgHello:
		c.errorf(m.Ref, "already_joined", "hello is only accepted once; reconnect to replay from another seq")
	case MsgPing:
		c.enqueue(mustJSON(pongMsg{Type: "pong", T: *m.T, ServerMS: c.hub.cfg.Now().UnixMilli()}))
	case MsgAnnotationCreate, MsgAnnotationUpdate, MsgAnnotationDelete:
		c.annotate(ctx, m)
	case MsgPlayhead:
		r.update(c, func(mb *Member) {
			mb.PlayheadMS = *m.PositionMS
			if m.Playing != nil {
				mb.Playing = *m.Playing
			}
		})
	case MsgTyping:
		r.update(c, func(mb *Member) { mb.Typing = *m.Typing })
	case MsgFollow:
		r.update(c, func(mb *Member) { mb.Following = *m.Following })
	case MsgPointer:
		r.mu.Lock()
		host := r.sync.Active && r.sync.HostID == c.actor.UserID && c.member.CanHost
		r.mu.Unlock()
		if !host {
			c.errorf(m.Ref, "forbidden", "only the host's pointer is shared")
			return
		}
		r.relay(mustJSON(pointerMsg{Type: "pointer", UserID: c.actor.UserID, X: *m.X, Y: *m.Y}), c)
	case MsgSyncRequest:
		if host, ok := c.hostRight(ctx, m.Ref); !ok {
			return
		} else if !host {
			c.errorf(m.Ref, "forbidden", "you may not host a session on this clip")
			return
		}
		r.relay(mustJSON(requestedMsg{Type: "sync.requested", UserID: c.actor.UserID, Name: c.actor.Name}), c)
		c.ack(m.Ref, 0, nil)
	default:
		c.syncCommand(ctx, m)
	}
}

// annotate forwards an annotation change to the Annotator. The service
// publishes the change's event through Hub.Publish before returning, so
// this client receives the event before the ack that carries its seq.
func (c *client) annotate(ctx context.Context, m ClientMessage) {
	if annotate, _ := c.caps(); !annotate {
		c.errorf(m.Ref, "forbidden", "you may watch this clip but not annotate it")
		return
	}
	// The Annotator re-checks the clip; the credential is checked here.
	if c.hub.creds != nil {
		if err := c.hub.creds.CheckCredential(ctx, c.actor); errors.Is(err, apperr.ErrUnauthorized) {
			c.enforce(signedOut)
			return
		} else if err != nil {
			c.sendError(m.Ref, err)
			return
		}
	}
	rec := &seqRecorder{}
	ctx = context.WithValue(ctx, seqRecorderKey{}, rec)
	var out json.RawMessage
	var err error
	switch m.Type {
	case MsgAnnotationCreate:
		out, err = c.hub.ann.Create(ctx, c.actor, c.room.clipID, m.Body)
	case MsgAnnotationUpdate:
		out, err = c.hub.ann.Update(ctx, c.actor, c.room.clipID, m.ID, m.Body)
	case MsgAnnotationDelete:
		err = c.hub.ann.Delete(ctx, c.actor, c.room.clipID, m.ID)
	}
	if err != nil {
		c.sendError(m.Ref, err)
		return
	}
	c.ack(m.Ref, rec.get(), out)
}

// syncCommand validates a sync command against the room's session, appends
// its event and delivers it.
func (c *client) syncCommand(ctx context.Context, m ClientMessage) {
	canHost, ok := c.hostRight(ctx, m.Ref)
	if !ok {
		return
	}
	r := c.room
	r.cmdMu.Lock()
	defer r.cmdMu.Unlock()
	r.mu.Lock()
	in := syncInput{
		State:       r.sync,
		NowMS:       c.hub.cfg.Now().UnixMilli(),
		HostPresent: r.sync.Active && r.hostPresentLocked(r.sync.HostID),
	}
	eligible := map[string]string{}
	for _, mb := range r.membersLocked() {
		if mb.CanHost {
			eligible[mb.UserID] = mb.Name
		}
	}
	r.mu.Unlock()
	in.Eligible = func(u string) (string, bool) { n, ok := eligible[u]; return n, ok }
	typ, next, err := applySync(in, syncActor{UserID: c.actor.UserID, Name: c.actor.Name, CanHost: canHost}, m)
	if err != nil {
		c.sendError(m.Ref, err)
		return
	}
	e, err := c.hub.appendAndPublish(ctx, annotations.Event{ClipID: r.clipID, Type: typ, ActorID: c.actor.UserID, Data: mustJSON(next)})
	if err != nil {
		c.hub.log.Error("Could not store a sync command.", "clip_id", r.clipID, "type", typ, "error", err)
		c.sendError(m.Ref, err)
		return
	}
	c.ack(m.Ref, e.Seq, nil)
}

// hostRight re-authorizes the sender's right to host before a sync
// command: its credential and the clip's audience as they are now, not as
// they were at join. ok is false when the command must not go on: the
// connection was closed (access ended) or the check failed (answered).
func (c *client) hostRight(ctx context.Context, ref string) (host, ok bool) {
	v, err := c.check(ctx, accounts.ClipHost)
	if c.enforce(v) {
		return false, false
	}
	if v == unknown {
		c.sendError(ref, err)
		return false, false
	}
	annotate, _ := c.caps()
	c.setCaps(annotate, v == allowed)
	return v == allowed, true
}

func (c *client) ack(ref string, seq int64, data json.RawMessage) {
	c.enqueue(mustJSON(ackMsg{Type: "ack", Ref: ref, Seq: seq, Data: data}))
}

func (c *client) errorf(ref, code, format string, args ...any) {
	c.sendError(ref, apperr.New(nil, code, fmt.Sprintf(format, args...)))
}

// sendError answers a message with the same code and message the REST API
// would give for err.
func (c *client) sendError(ref string, err error) {
	status, d := httpx.Status(err)
	if status >= 500 {
		c.hub.log.Error("A live request failed.", "clip_id", c.room.clipID, "user_id", c.actor.UserID, "error", err)
	}
	c.enqueue(mustJSON(errorMsg{Type: "error", Ref: ref, Code: d.Code, Message: d.Message, Fields: d.Fields}))
}

// sees reports whether the client may receive the event: private changes
// only reach their user, and while reflect-first hides others' feedback
// from this viewer, only their own annotation and reply events reach them.
func (c *client) sees(e annotations.Event) bool {
	if !e.VisibleTo(c.actor.UserID) {
		return false
	}
	if c.hideOthers && e.ActorID != c.actor.UserID && (strings.HasPrefix(e.Type, "annotation.") || strings.HasPrefix(e.Type, "reply.")) {
		return false
	}
	return true
}
