package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
)

// dialLive opens clip's live room as p with the given Origin ("" sends
// none) and returns the socket, or the refusal's status and body.
func (w *world) dialLive(p person, clip, origin string) (*websocket.Conn, response) {
	w.t.Helper()
	u := "ws" + strings.TrimPrefix(w.ts.URL, "http") + "/api/v1/clips/" + clip + "/live"
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if p.session.Token != "" {
		h.Set("Cookie", accounts.SessionCookie+"="+p.session.Token)
	}
	if p.bearer != "" {
		h.Set("Authorization", "Bearer "+p.bearer)
	}
	conn, res, err := websocket.DefaultDialer.Dial(u, h)
	if err == nil {
		w.t.Cleanup(func() { conn.Close() })
		return conn, response{status: 101}
	}
	if res == nil {
		w.t.Fatalf("dial %s: %v", u, err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, rerr := res.Body.Read(buf)
		b.Write(buf[:n])
		if rerr != nil {
			break
		}
	}
	return nil, response{status: res.StatusCode, body: b.String(), header: res.Header}
}

// liveMember is one joined socket.
type liveMember struct {
	t    *testing.T
	conn *websocket.Conn
}

func (w *world) joinLive(who, clip string) *liveMember {
	w.t.Helper()
	conn, res := w.dialLive(w.people[who], clip, w.ts.URL)
	if conn == nil {
		w.t.Fatalf("%s joins: %d %s", who, res.status, res.body)
	}
	m := &liveMember{t: w.t, conn: conn}
	m.send(map[string]any{"type": "hello", "v": 1})
	m.await(func(msg map[string]any) bool { return msg["type"] == "welcome" })
	return m
}

func (m *liveMember) send(msg any) {
	m.t.Helper()
	if err := m.trySend(msg); err != nil {
		m.t.Fatal(err)
	}
}

// trySend writes msg (a string as it is, "binary:" for a binary frame, or
// a value as JSON).
func (m *liveMember) trySend(msg any) error {
	var err error
	if s, ok := msg.(string); ok {
		typ := websocket.TextMessage
		if b, ok := strings.CutPrefix(s, "binary:"); ok {
			typ, s = websocket.BinaryMessage, b
		}
		err = m.conn.WriteMessage(typ, []byte(s))
	} else {
		err = m.conn.WriteJSON(msg)
	}
	return err
}

// await reads until a message matches; the deadline only stops a hung test.
func (m *liveMember) await(match func(map[string]any) bool) map[string]any {
	m.t.Helper()
	_ = m.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := m.conn.ReadMessage()
		if err != nil {
			m.t.Fatalf("live socket: %v", err)
		}
		var msg map[string]any
		if err := json.Unmarshal(data, &msg); err != nil {
			m.t.Fatalf("live message %s: %v", data, err)
		}
		if match(msg) {
			return msg
		}
	}
}

// liveCase is one client message sent by one actor into a room where the
// owner hosts a session and the owner, the coach and the peer are present.
// want is "ack", "pong", "presence" or "pointer" (seen by a witness), or
// "error:<code>".
type liveCase struct {
	who, name string
	msg       string
	want      string
}

// liveMessages are the protocol's client messages; {coachAnn} is the
// coach's annotation, {ownerID}/{coachID} user IDs, {victimAnn} an
// annotation on another clip the actor may not see.
var liveMessages = []struct {
	name string
	msg  string
	// want per actor: owner (the host), coach (may host), peer (may not).
	owner, coach, peer string
}{
	{"hello again", `{"type":"hello","v":1,"ref":"r"}`, "error:already_joined", "error:already_joined", "error:already_joined"},
	{"ping", `{"type":"ping","t":1,"ref":"r"}`, "pong", "pong", "pong"},
	{"annotation.create", `{"type":"annotation.create","ref":"r","body":{"start_ms":1,"body":"live note","visibility":"audience"}}`, "ack", "ack", "ack"},
	{"annotation.update of the coach's", `{"type":"annotation.update","ref":"r","id":"{coachAnn}","body":{"body":"rewritten"}}`, "error:forbidden", "ack", "error:forbidden"},
	{"annotation.delete of the coach's", `{"type":"annotation.delete","ref":"r","id":"{coachAnn}"}`, "error:forbidden", "ack", "error:forbidden"},
	{"annotation.update of another clip's", `{"type":"annotation.update","ref":"r","id":"{victimAnn}","body":{"body":"rewritten"}}`, "error:not_found", "error:not_found", "error:not_found"},
	{"annotation.delete of another clip's", `{"type":"annotation.delete","ref":"r","id":"{victimAnn}"}`, "error:not_found", "error:not_found", "error:not_found"},
	{"playhead", `{"type":"playhead","position_ms":5000,"playing":true}`, "presence", "presence", "presence"},
	{"typing", `{"type":"typing","typing":true}`, "presence", "presence", "presence"},
	{"follow", `{"type":"follow","following":false}`, "presence", "presence", "presence"},
	{"pointer", `{"type":"pointer","ref":"r","x":0.5,"y":0.5}`, "pointer", "error:forbidden", "error:forbidden"},
	{"sync.start", `{"type":"sync.start","ref":"r","position_ms":0}`, "ack", "error:session_active", "error:forbidden"},
	{"sync.play", `{"type":"sync.play","ref":"r","position_ms":1000}`, "ack", "error:forbidden", "error:forbidden"},
	{"sync.pause", `{"type":"sync.pause","ref":"r"}`, "ack", "error:forbidden", "error:forbidden"},
	{"sync.seek", `{"type":"sync.seek","ref":"r","position_ms":60000}`, "ack", "error:forbidden", "error:forbidden"},
	{"sync.rate", `{"type":"sync.rate","ref":"r","rate":2}`, "ack", "error:forbidden", "error:forbidden"},
	{"sync.handoff to the coach", `{"type":"sync.handoff","ref":"r","user_id":"{coachID}"}`, "ack", "error:forbidden", "error:forbidden"},
	{"sync.handoff to the peer, who may not host", `{"type":"sync.handoff","ref":"r","user_id":"{peerID}"}`, "error:invalid_input", "error:forbidden", "error:forbidden"},
	{"sync.handoff to someone absent", `{"type":"sync.handoff","ref":"r","user_id":"{outsiderID}"}`, "error:invalid_input", "error:forbidden", "error:forbidden"},
	{"sync.request", `{"type":"sync.request","ref":"r"}`, "ack", "ack", "error:forbidden"},
	{"sync.take", `{"type":"sync.take","ref":"r"}`, "ack", "error:session_active", "error:forbidden"},
	{"sync.end", `{"type":"sync.end","ref":"r"}`, "ack", "error:forbidden", "error:forbidden"},
	{"unknown type", `{"type":"admin.grant","ref":"r"}`, "error:unknown_type", "error:unknown_type", "error:unknown_type"},
	{"malformed JSON", `{"type":"ping","t":`, "error:invalid_json", "error:invalid_json", "error:invalid_json"},
	{"field of another type", `{"type":"sync.end","ref":"r","user_id":"{ownerID}"}`, "error:invalid_input", "error:invalid_input", "error:invalid_input"},
	{"rate out of range", `{"type":"sync.rate","ref":"r","rate":1000}`, "error:invalid_input", "error:invalid_input", "error:invalid_input"},
	{"invalid UTF-8 in an annotation", "{\"type\":\"annotation.create\",\"ref\":\"r\",\"body\":{\"start_ms\":1,\"body\":\"caf\xe9\"}}", "error:invalid_utf8", "error:invalid_utf8", "error:invalid_utf8"},
	{"deeply nested body", `{"type":"annotation.create","ref":"r","body":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, "error:invalid_json", "error:invalid_json", "error:invalid_json"},
	{"message over 64 KiB", `{"type":"annotation.create","ref":"r","body":{"start_ms":1,"body":"` + strings.Repeat("a", 70<<10) + `"}}`, "close:1009", "close:1009", "close:1009"},
	{"binary frame", "binary:" + `{"type":"ping","t":1}`, "close:1003", "close:1003", "close:1003"},
}

func liveCases() []liveCase {
	var cs []liveCase
	for _, m := range liveMessages {
		cs = append(cs, liveCase{"owner", m.name, m.msg, m.owner}, liveCase{"coach", m.name, m.msg, m.coach}, liveCase{"peer", m.name, m.msg, m.peer})
	}
	return cs
}

// liveRefusedActors may not open clip C's room at all: every message they
// could send is refused by the refused upgrade.
var liveRefusedActors = []struct {
	who    string
	status int
	code   string
}{
	{"other", 404, "not_found"}, {"outsider", 404, "not_found"}, {"admin", 404, "not_found"},
	{"removed", 404, "not_found"}, {"anonymous", 401, "unauthorized"}, {"revoked", 401, "invalid_token"},
}

// TestAttackLiveProtocol: every client message of the live protocol, sent
// over a real websocket by each actor who may join, gets the answer its
// rights allow; those who may not join are refused before the upgrade.
func TestAttackLiveProtocol(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	t.Logf("attack suite: live protocol (messages x actors): %d cases", len(liveCases())+len(liveRefusedActors))
	for _, a := range liveRefusedActors {
		conn, res := w.dialLive(w.people[a.who], w.clip, w.ts.URL)
		if conn != nil {
			t.Errorf("%s opened clip C's live room", a.who)
			continue
		}
		if res.status != a.status {
			t.Errorf("%s joins: %d, want %d: %s", a.who, res.status, a.status, res.body)
		}
		checkRefusal(t, a.who+" joins", res, a.code)
	}
	// An annotation on a clip only the outsider sees.
	a := w.env.clip(w.people["outsider"], "Attacker clip", "").ID
	var victim struct{ ID string }
	w.postJSON("outsider", "POST", "/api/v1/clips/"+a+"/annotations", `{"start_ms":1,"body":"on A","visibility":"audience"}`, &victim)
	ids := map[string]string{"{victimAnn}": victim.ID, "{ownerID}": w.people["owner"].user.ID,
		"{coachID}": w.people["coach"].user.ID, "{peerID}": w.people["peer"].user.ID, "{outsiderID}": w.people["outsider"].user.ID}
	for _, c := range liveCases() {
		// A fresh room for every case: clip C2, shared with G, hosted by
		// its owner, with the coach and the peer present.
		clip := w.env.clip(w.people["owner"], "Room", w.g).ID
		var coachAnn struct{ ID string }
		w.postJSON("coach", "POST", "/api/v1/clips/"+clip+"/annotations", `{"start_ms":1,"body":"coach's note","visibility":"audience"}`, &coachAnn)
		room := map[string]*liveMember{}
		for _, who := range []string{"owner", "coach", "peer"} {
			room[who] = w.joinLive(who, clip)
		}
		room["owner"].send(`{"type":"sync.start","ref":"host","position_ms":0}`)
		room["owner"].await(func(m map[string]any) bool { return m["type"] == "ack" && m["ref"] == "host" })
		msg := c.msg
		for k, v := range ids {
			msg = strings.ReplaceAll(msg, k, v)
		}
		msg = strings.ReplaceAll(msg, "{coachAnn}", coachAnn.ID)
		sender := room[c.who]
		witness := room["peer"]
		if c.who == "peer" {
			witness = room["coach"]
		}
		what := c.who + " sends " + c.name + ": " + truncateString(msg, 200)
		if strings.HasPrefix(c.want, "close:") {
			// The server may close the socket before the whole message is
			// written (an oversized frame is cut off at the read limit):
			// the close code read below is what counts.
			_ = sender.trySend(msg)
		} else {
			sender.send(msg)
		}
		switch {
		case c.want == "ack":
			sender.await(func(m map[string]any) bool {
				if m["type"] == "error" {
					t.Errorf("%s: error %v, want ack", what, m)
					return true
				}
				return m["type"] == "ack" && m["ref"] == "r"
			})
		case strings.HasPrefix(c.want, "close:"):
			// The server closes the socket with the protocol's code.
			_ = sender.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			var err error
			for err == nil {
				_, _, err = sender.conn.ReadMessage()
			}
			if ce, ok := err.(*websocket.CloseError); !ok || fmt.Sprint(ce.Code) != strings.TrimPrefix(c.want, "close:") {
				t.Errorf("%s: socket ended with %v, want close %s", c.who+" sends "+c.name, err, strings.TrimPrefix(c.want, "close:"))
			}
		case c.want == "pong":
			sender.await(func(m map[string]any) bool { return m["type"] == "pong" })
		case c.want == "presence" || c.want == "pointer":
			uid := w.people[c.who].user.ID
			witness.await(func(m map[string]any) bool {
				if c.want == "pointer" {
					return m["type"] == "pointer" && m["user_id"] == uid
				}
				mb, _ := m["member"].(map[string]any)
				return m["type"] == "presence" && m["op"] == "update" && mb["user_id"] == uid
			})
		default:
			code := strings.TrimPrefix(c.want, "error:")
			got := sender.await(func(m map[string]any) bool { return m["type"] == "error" || m["type"] == "ack" })
			if got["type"] != "error" || got["code"] != code {
				t.Errorf("%s: %v, want error %s", what, got, code)
			}
			if b, _ := json.Marshal(got); strings.Contains(string(b), "on A") || strings.Contains(string(b), "Attacker clip") {
				t.Errorf("%s: the error leaks the other clip: %s", what, b)
			}
		}
		// Each case's sockets end with it: a user may hold only a few
		// live connections at once.
		for _, m := range room {
			_ = m.conn.Close()
		}
	}
}

// wsOriginCase is a websocket upgrade from a page of some origin.
type wsOriginCase struct {
	name, origin string
	status       int
	code         string
}

func wsOriginCases() []wsOriginCase {
	return []wsOriginCase{
		{"another site", "http://evil.example", 403, "bad_origin"},
		{"a sandboxed frame", "null", 403, "bad_origin"},
		{"a look-alike host", "http://{host}.evil.example", 403, "bad_origin"},
		{"the site's name as a subdomain prefix", "http://evil-{host}", 403, "bad_origin"},
		{"the same host over another scheme", "https://{host}", 403, "bad_origin"},
		{"the same host name on another port", "http://127.0.0.1:1", 403, "bad_origin"},
		{"the configured base URL with a path", "http://filmroom.test.evil.example/", 403, "bad_origin"},
		{"a file page", "file://", 403, "bad_origin"},
		{"the configured base URL", "http://filmroom.test", 101, ""},
		{"the server's own address", "http://{host}", 101, ""},
	}
}

// TestAttackWebsocketOrigin: a page of another site cannot open a live
// room with the visitor's cookie; the site's own pages can.
func TestAttackWebsocketOrigin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	host := strings.TrimPrefix(w.ts.URL, "http://")
	cs := wsOriginCases()
	t.Logf("attack suite: cross-origin websocket upgrades: %d cases", len(cs))
	for _, c := range cs {
		origin := strings.ReplaceAll(c.origin, "{host}", host)
		for _, who := range []string{"coach"} {
			conn, res := w.dialLive(w.people[who], w.clip, origin)
			if conn != nil {
				res.status = 101
				conn.Close()
			}
			if res.status != c.status {
				t.Errorf("%s (Origin %s): %d, want %d: %s", c.name, origin, res.status, c.status, res.body)
			}
			if c.status != 101 {
				checkRefusal(t, c.name, res, c.code)
			}
		}
	}
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
