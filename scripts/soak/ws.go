package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

var wsDialer = &websocket.Dialer{HandshakeTimeout: 20 * time.Second}

// wsMsg is the part of a server message the driver reads.
type wsMsg struct {
	Type  string          `json:"type"`
	Seq   int64           `json:"seq"`
	Ref   string          `json:"ref"`
	Head  int64           `json:"head"`
	Code  string          `json:"code"`
	Msg   string          `json:"message"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// roomConn is one live-room connection of one user to one clip. It keeps
// the last seq it received so a reconnect resumes with `since` (see
// docs/live-protocol.md), and counts any event that arrives twice or out of
// order, which the protocol promises never happens.
type roomConn struct {
	c       *client
	clipID  string
	lastSeq atomic.Int64
	// dupes counts events whose seq was not above the last one seen.
	dupes *atomic.Int64

	mu      sync.Mutex
	ws      *websocket.Conn
	pending map[string]chan wsMsg
	closed  chan struct{}
	refN    int
}

func newRoomConn(c *client, clipID string, dupes *atomic.Int64) *roomConn {
	return &roomConn{c: c, clipID: clipID, dupes: dupes}
}

// connect opens the socket, says hello (with since after a first
// connection) and waits for the welcome.
func (r *roomConn) connect(ctx context.Context) error {
	u := "ws" + strings.TrimPrefix(r.c.base, "http") + "/api/v1/clips/" + r.clipID + "/live"
	h := http.Header{"Authorization": {"Bearer " + r.c.token}}
	ws, resp, err := wsDialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			return &apiError{resp.StatusCode, "websocket upgrade"}
		}
		return err
	}
	hello := map[string]any{"type": "hello", "v": 1}
	if s := r.lastSeq.Load(); s > 0 {
		hello["since"] = s
	}
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(hello); err != nil {
		ws.Close()
		return fmt.Errorf("hello: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	var m wsMsg
	if err := ws.ReadJSON(&m); err != nil {
		ws.Close()
		return fmt.Errorf("welcome: %w", err)
	}
	if m.Type != "welcome" {
		ws.Close()
		return fmt.Errorf("welcome: got %s %s %s", m.Type, m.Code, m.Msg)
	}
	if r.lastSeq.Load() == 0 {
		r.lastSeq.Store(m.Head)
	}
	_ = ws.SetReadDeadline(time.Time{})
	r.mu.Lock()
	r.ws, r.pending, r.closed = ws, map[string]chan wsMsg{}, make(chan struct{})
	closed := r.closed
	r.mu.Unlock()
	go r.read(ws, closed)
	return nil
}

func (r *roomConn) read(ws *websocket.Conn, closed chan struct{}) {
	defer close(closed)
	for {
		var m wsMsg
		if err := ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case "event":
			if last := r.lastSeq.Load(); m.Seq <= last {
				r.dupes.Add(1)
			} else {
				r.lastSeq.Store(m.Seq)
			}
		case "ack", "error":
			if m.Ref == "" {
				continue
			}
			r.mu.Lock()
			ch := r.pending[m.Ref]
			delete(r.pending, m.Ref)
			r.mu.Unlock()
			if ch != nil {
				ch <- m
			}
		}
	}
}

// close ends the connection cleanly (a member leaving the room).
func (r *roomConn) close() {
	r.mu.Lock()
	ws, closed := r.ws, r.closed
	r.ws = nil
	r.mu.Unlock()
	if ws == nil {
		return
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(2*time.Second))
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
	}
	ws.Close()
}

var errSocketGone = errors.New("socket closed before the answer")

// send writes one message with a fresh ref and waits for its ack or error.
func (r *roomConn) send(msg map[string]any, wait time.Duration) (wsMsg, error) {
	r.mu.Lock()
	ws, closed := r.ws, r.closed
	if ws == nil {
		r.mu.Unlock()
		return wsMsg{}, errSocketGone
	}
	r.refN++
	ref := "r" + strconv.Itoa(r.refN)
	ch := make(chan wsMsg, 1)
	r.pending[ref] = ch
	r.mu.Unlock()
	msg["ref"] = ref
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteJSON(msg); err != nil {
		return wsMsg{}, errSocketGone
	}
	select {
	case m := <-ch:
		if m.Type == "error" {
			return m, fmt.Errorf("ws error %s: %s", m.Code, m.Msg)
		}
		return m, nil
	case <-closed:
		return wsMsg{}, errSocketGone
	case <-time.After(wait):
		return wsMsg{}, context.DeadlineExceeded
	}
}

// alive reports whether the socket is open.
func (r *roomConn) alive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ws == nil {
		return false
	}
	select {
	case <-r.closed:
		return false
	default:
		return true
	}
}

// notify writes a message that gets no answer (presence).
func (r *roomConn) notify(msg map[string]any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ws == nil {
		return errSocketGone
	}
	_ = r.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := r.ws.WriteJSON(msg); err != nil {
		return errSocketGone
	}
	return nil
}
