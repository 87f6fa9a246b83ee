package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

type node struct {
	base string
	cmd  *exec.Cmd
}

// startNode runs `filmroom serve` as its own process until the test ends.
func startNode(t *testing.T, bin, dbURL, natsURL string) *node {
	t.Helper()
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	logf, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", base, "--database", dbURL,
		"--nats-url", natsURL, "--data-dir", t.TempDir(), "--workers", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("log of %s:\n%s", base, b)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return &node{base: base, cmd: cmd}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s did not become ready", base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// browser is a signed-in client of one node.
type browser struct {
	t        *testing.T
	base     string
	session  string
	csrf     string
	clipRoom *websocket.Conn
}

func (b *browser) call(method, path, body string, headers map[string]string) (int, string, http.Header) {
	b.t.Helper()
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if b.session != "" {
		req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: b.session})
		req.Header.Set(accounts.CSRFHeader, b.csrf)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		switch c.Name {
		case accounts.SessionCookie:
			b.session = c.Value
		case accounts.CSRFCookie:
			b.csrf = c.Value
		}
	}
	return res.StatusCode, string(out), res.Header
}

func (b *browser) must(method, path, body string, want int) string {
	b.t.Helper()
	status, out, _ := b.call(method, path, body, nil)
	if status != want {
		b.t.Fatalf("%s %s on %s: %d %s", method, path, b.base, status, out)
	}
	return out
}

func (b *browser) join(clipID string) {
	b.t.Helper()
	b.joinWith(clipID, map[string]any{"type": "hello", "v": 1})
}

// clipRoomSince joins asking for every event after seq.
func (b *browser) clipRoomSince(clipID string, seq int64) {
	b.t.Helper()
	b.joinWith(clipID, map[string]any{"type": "hello", "v": 1, "since": seq})
}

func (b *browser) joinWith(clipID string, hello map[string]any) {
	b.t.Helper()
	u := "ws" + strings.TrimPrefix(b.base, "http") + "/api/v1/clips/" + clipID + "/live"
	h := http.Header{}
	h.Set("Origin", b.base)
	h.Set("Cookie", accounts.SessionCookie+"="+b.session)
	conn, res, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		b.t.Fatalf("join room on %s: %v (%d)", b.base, err, status)
	}
	b.t.Cleanup(func() { conn.Close() })
	if err := conn.WriteJSON(hello); err != nil {
		b.t.Fatal(err)
	}
	b.clipRoom = conn
	b.await(func(m map[string]any) bool { return m["type"] == "welcome" })
}

func (b *browser) send(msg map[string]any) {
	b.t.Helper()
	if err := b.clipRoom.WriteJSON(msg); err != nil {
		b.t.Fatal(err)
	}
}

// await reads room messages until one matches; the read deadline only
// stops a hung test.
func (b *browser) await(match func(map[string]any) bool) map[string]any {
	b.t.Helper()
	_ = b.clipRoom.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m map[string]any
		if err := b.clipRoom.ReadJSON(&m); err != nil {
			b.t.Fatalf("room on %s: %v", b.base, err)
		}
		if match(m) {
			return m
		}
	}
}

// TestTwoNodes runs two `filmroom serve` processes on different ports over
// one PostgreSQL database and NATS: a member connected to node A sees the
// annotation and the sync commands of a member connected to node B, with
// one gap-free seq.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	bin := filmroomBinary(t)
	natsURL := testsvc.NATSURL(t)
	dbURL := testsvc.PostgresSchema(t)
	if b, err := exec.Command(bin, "migrate", "--database", dbURL, "--data-dir", t.TempDir()).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, b)
	}
	a := startNode(t, bin, dbURL, natsURL)
	b := startNode(t, bin, dbURL, natsURL)

	// The facilitator signs up on node A; a coach joins on node B.
	fac := &browser{t: t, base: a.base}
	fac.must("POST", "/api/v1/setup", `{"email":"fac@example.org","name":"Fay","password":"a long enough password"}`, 201)
	var g struct{ Group struct{ ID string } }
	_ = json.Unmarshal([]byte(fac.must("POST", "/api/v1/groups", `{"name":"Cohort"}`, 201)), &g)
	var inv struct{ Invitation struct{ Token string } }
	_ = json.Unmarshal([]byte(fac.must("POST", "/api/v1/groups/"+g.Group.ID+"/invitations", `{"role":"coach"}`, 201)), &inv)
	coach := &browser{t: t, base: b.base}
	coach.must("POST", "/api/v1/invitations/"+inv.Invitation.Token+"/accept", `{"email":"coach@example.org","name":"Cole","password":"a long enough password"}`, 200)

	// A clip shared with the group, uploaded through node A (no worker runs,
	// so it stays in processing; the room does not need media).
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("lesson.mp4")) + ",group_id " + base64.StdEncoding.EncodeToString([]byte(g.Group.ID))
	status, body, hdr := fac.call("POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "4", "Upload-Metadata": meta})
	if status != 201 {
		t.Fatalf("create upload: %d %s", status, body)
	}
	loc := hdr.Get("Location")
	if status, body, _ := fac.call("PATCH", loc[strings.Index(loc, "/api/v1/"):], "data", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}); status != 204 {
		t.Fatalf("upload: %d %s", status, body)
	}
	var clipID string
	for deadline := time.Now().Add(30 * time.Second); clipID == "" && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var list struct{ Clips []struct{ ID string } }
		_ = json.Unmarshal([]byte(coach.must("GET", "/api/v1/clips?scope=shared", "", 200)), &list)
		if len(list.Clips) == 1 {
			clipID = list.Clips[0].ID
		}
	}
	if clipID == "" {
		t.Fatal("the uploaded clip never appeared for the coach")
	}

	fac.join(clipID)
	coach.join(clipID)

	// An annotation made through node B's REST API reaches node A's room.
	coach.must("POST", "/api/v1/clips/"+clipID+"/annotations", `{"start_ms":1500,"body":"Great hook","kind":"strength","visibility":"audience"}`, 201)
	got := fac.await(func(m map[string]any) bool { return m["type"] == "event" && m["event"] == "annotation.created" })
	first := got["seq"].(float64)

	// One made through node A's socket reaches node B's room with the next seq.
	fac.send(map[string]any{"type": "annotation.create", "ref": "r1", "body": map[string]any{"start_ms": 3000, "body": "Note from A", "kind": "note", "visibility": "audience"}})
	got = coach.await(func(m map[string]any) bool {
		return m["type"] == "event" && m["event"] == "annotation.created" && strings.Contains(fmt.Sprint(m["data"]), "Note from A")
	})
	if got["seq"].(float64) != first+1 {
		t.Fatalf("seq across nodes: %v after %v", got["seq"], first)
	}

	// The coach on node B hosts a sync session; the facilitator on A follows.
	coach.send(map[string]any{"type": "sync.start", "position_ms": 0, "playing": false, "rate": 1})
	fac.await(func(m map[string]any) bool { return m["type"] == "event" && m["event"] == "sync.start" })
	coach.send(map[string]any{"type": "sync.seek", "position_ms": 42000})
	seek := fac.await(func(m map[string]any) bool { return m["type"] == "event" && m["event"] == "sync.seek" })
	if !strings.Contains(fmt.Sprint(seek["data"]), "42000") {
		t.Fatalf("seek event: %v", seek)
	}
	coach.send(map[string]any{"type": "sync.pause", "position_ms": 42000})
	fac.await(func(m map[string]any) bool { return m["type"] == "event" && m["event"] == "sync.pause" })
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
