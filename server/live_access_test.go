package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations/live"
)

// liveSocket opens the clip's live room as p (or with a bearer token) and
// reads the welcome.
func (w *world) liveSocket(t *testing.T, p person, bearer string) *websocket.Conn {
	t.Helper()
	h := http.Header{}
	if bearer != "" {
		h.Set("Authorization", "Bearer "+bearer)
	} else {
		h.Set("Cookie", accounts.SessionCookie+"="+p.session.Token)
	}
	url := "ws" + strings.TrimPrefix(w.ts.URL, "http") + "/api/v1/clips/" + w.clip + "/live"
	conn, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("open live room: %v (status %d)", err, status)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.WriteJSON(map[string]any{"type": "hello", "v": 1}); err != nil {
		t.Fatal(err)
	}
	if m := readLive(t, conn); m["type"] != "welcome" {
		t.Fatalf("first message %v, want welcome", m)
	}
	return conn
}

func readLive(t *testing.T, conn *websocket.Conn) map[string]any {
	t.Helper()
	var m map[string]any
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("read live message: %v", err)
	}
	return m
}

// TestLiveAccessRevokedAtOnce: every change that takes access away closes
// the live-room sockets it concerns at once, with 4401 (the sign-in ended)
// or 4403 (the clip may no longer be seen), through the accounts and media
// hooks the server wires to the hub. Without them the sockets stayed open
// and kept receiving every event.
func TestLiveAccessRevokedAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		who  string
		// token opens the socket with an API token instead of the session.
		token bool
		// revoke takes access away; tok is the token's ID when token is set.
		revoke func(t *testing.T, w *world, p person, tok string)
		code   int
	}{
		{"clip unshared", "peer", false, func(t *testing.T, w *world, _ person, _ string) {
			if res := w.do(w.people["owner"], "PUT", "/api/v1/clips/"+w.clip+"/audience", `{"user_ids":[],"group_ids":[]}`); res.status != 200 {
				t.Fatalf("unshare: %d %s", res.status, res.body)
			}
		}, live.CloseAccessRevoked},
		{"removed from the group", "peer", false, func(t *testing.T, w *world, p person, _ string) {
			if res := w.do(w.people["facilitator"], "DELETE", "/api/v1/groups/"+w.g+"/members/"+p.user.ID, ""); res.status != 204 {
				t.Fatalf("remove member: %d %s", res.status, res.body)
			}
		}, live.CloseAccessRevoked},
		{"group archived", "peer", false, func(t *testing.T, w *world, _ person, _ string) {
			if res := w.do(w.people["facilitator"], "DELETE", "/api/v1/groups/"+w.g, ""); res.status != 204 {
				t.Fatalf("archive group: %d %s", res.status, res.body)
			}
		}, live.CloseAccessRevoked},
		{"clip deleted", "peer", false, func(t *testing.T, w *world, _ person, _ string) {
			if res := w.do(w.people["owner"], "DELETE", "/api/v1/clips/"+w.clip, ""); res.status != 204 {
				t.Fatalf("delete clip: %d %s", res.status, res.body)
			}
		}, live.CloseAccessRevoked},
		{"signed out", "peer", false, func(t *testing.T, w *world, p person, _ string) {
			if res := w.do(p, "POST", "/api/v1/auth/logout", ""); res.status != 204 {
				t.Fatalf("sign out: %d %s", res.status, res.body)
			}
		}, live.CloseSignedOut},
		{"password changed in another browser", "coach", false, func(t *testing.T, w *world, p person, _ string) {
			other, err := w.srv.Accounts.CreateSession(ctx, p.user.ID, "other browser")
			if err != nil {
				t.Fatal(err)
			}
			res := w.do(person{user: p.user, session: other}, "POST", "/api/v1/me/password",
				`{"current_password":"a long enough password","new_password":"another long password"}`)
			if res.status != 204 {
				t.Fatalf("change password: %d %s", res.status, res.body)
			}
		}, live.CloseSignedOut},
		{"password reset by the CLI's service call", "coach", false, func(t *testing.T, w *world, p person, _ string) {
			if err := w.srv.Accounts.SetPassword(ctx, p.user.ID, "a reset long password"); err != nil {
				t.Fatal(err)
			}
		}, live.CloseSignedOut},
		{"token deleted", "peer", true, func(t *testing.T, w *world, p person, tok string) {
			if res := w.do(p, "DELETE", "/api/v1/me/tokens/"+tok, ""); res.status != 204 {
				t.Fatalf("delete token: %d %s", res.status, res.body)
			}
		}, live.CloseSignedOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			p := w.people[tc.who]
			var bearer, tokID string
			if tc.token {
				tok, err := w.srv.Accounts.CreateToken(ctx, p.user.ID, "live script")
				if err != nil {
					t.Fatal(err)
				}
				bearer, tokID = tok.Token, tok.ID
			}
			victim := w.liveSocket(t, p, bearer)
			// The owner stays: their socket must survive the change (a
			// deleted clip closes it too, so it is not checked there).
			owner := w.liveSocket(t, w.people["owner"], "")
			tc.revoke(t, w, p, tokID)
			if tc.name != "clip deleted" {
				// A new annotation right after the change must not reach
				// the victim: the close comes first.
				if res := w.do(w.people["owner"], "POST", "/api/v1/clips/"+w.clip+"/annotations", `{"start_ms":1000,"body":"after the change"}`); res.status != 201 {
					t.Fatalf("annotate: %d %s", res.status, res.body)
				}
			}
			for {
				_, b, err := victim.ReadMessage()
				if err != nil {
					var ce *websocket.CloseError
					if !errors.As(err, &ce) || ce.Code != tc.code {
						t.Fatalf("socket ended with %v, want close %d", err, tc.code)
					}
					break
				}
				if strings.Contains(string(b), `"type":"event"`) {
					t.Fatalf("the socket still receives events after access ended: %s", b)
				}
			}
			if tc.name == "clip deleted" {
				return
			}
			if err := owner.WriteJSON(map[string]any{"type": "ping", "t": 1}); err != nil {
				t.Fatal(err)
			}
			for {
				m := readLive(t, owner)
				if m["type"] == "pong" {
					break
				}
			}
		})
	}
}

// TestLiveHostRightsEveryCommand: a coach hosting a session who is made a
// peer may send no further sync command: the right to host is checked on
// each command, not only at join.
func TestLiveHostRightsEveryCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	coach := w.people["coach"]
	conn := w.liveSocket(t, coach, "")
	send := func(m map[string]any) map[string]any {
		t.Helper()
		if err := conn.WriteJSON(m); err != nil {
			t.Fatal(err)
		}
		for {
			got := readLive(t, conn)
			if got["ref"] == m["ref"] {
				return got
			}
		}
	}
	if got := send(map[string]any{"type": "sync.start", "ref": "s1", "position_ms": 0}); got["type"] != "ack" {
		t.Fatalf("coach's sync.start: %v", got)
	}
	// Straight in the database, so that no notification helps: only the
	// check on each command can refuse the next one.
	if _, err := w.db.Writer().Exec(context.Background(), `UPDATE group_members SET role = 'peer' WHERE group_id = ? AND user_id = ?`, w.g, coach.user.ID); err != nil {
		t.Fatal(err)
	}
	for i, typ := range []string{"sync.seek", "sync.play", "sync.pause", "sync.rate", "sync.end", "sync.handoff"} {
		m := map[string]any{"type": typ, "ref": typ}
		switch typ {
		case "sync.seek":
			m["position_ms"] = 60000
		case "sync.rate":
			m["rate"] = 2
		case "sync.handoff":
			m["user_id"] = w.people["owner"].user.ID
		}
		got := send(m)
		if got["type"] != "error" || got["code"] != "forbidden" {
			b, _ := json.Marshal(got)
			t.Fatalf("command %d %s after losing host rights: %s", i, typ, b)
		}
	}
	if got := send(map[string]any{"type": "sync.start", "ref": "again"}); got["type"] != "error" || got["code"] != "forbidden" {
		t.Fatalf("sync.start after losing host rights: %v", got)
	}
}
