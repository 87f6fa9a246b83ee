package server

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations/live"
)

// unzip reads an export into name → content.
func unzip(t *testing.T, body string) map[string]string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader([]byte(body)), int64(len(body)))
	if err != nil {
		t.Fatalf("the export is not a ZIP: %v", err)
	}
	out := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatalf("open %s: %v", f.Name, err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s: %v", f.Name, err)
		}
		out[f.Name] = string(b)
	}
	return out
}

func entryNames(files map[string]string) string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	return strings.Join(names, "\n")
}

// TestDataExportAndAccountDeletion: a teacher downloads all their data as
// one ZIP (their clip's original, captions, everyone's feedback on it as
// JSON and Web Annotations, what they wrote elsewhere, reflections, goals)
// and nobody else's; then deletes their account, after which no row names
// them and no object of their clips is left, on both set-ups.
func TestDataExportAndAccountDeletion(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data, err := os.ReadFile(lessonClip(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := newForgetEnv(t, tc.db.Open(t), tc.s3, nil)
			ctx := context.Background()
			owner := fe.user("teacher@example.org", "Tess", false)
			peer := fe.user("peer@example.org", "Pia", false)
			clip := readyClip(t, fe.env, owner, "export.mp4", data)
			base := "/api/v1/clips/" + clip.ID
			mustStatus(t, fe.do(owner, "PUT", base+"/audience", `{"emails":["peer@example.org"]}`), 200, "share")
			mustStatus(t, fe.doWith(owner, "PUT", base+"/captions/en", "WEBVTT\n\n00:00.500 --> 00:02.000\nCount with me\n",
				map[string]string{"Content-Type": "text/vtt"}), 200, "captions")
			var ann struct{ ID string }
			mustStatus(t, fe.do(peer, "POST", base+"/annotations", `{"start_ms":1000,"body":"Peer praise","kind":"strength"}`), 201, "annotate").json(t, &ann)
			mustStatus(t, fe.do(owner, "POST", base+"/annotations/"+ann.ID+"/replies", `{"body":"Owner thanks"}`), 201, "reply")
			mustStatus(t, fe.do(peer, "POST", base+"/annotations", `{"start_ms":1200,"body":"Peer secret","visibility":"private"}`), 201, "peer's private note")
			mustStatus(t, fe.do(owner, "PUT", base+"/reflection", `{"went_well":"Owner reflection","to_change":"","evidence":""}`), 200, "reflect")
			mustStatus(t, fe.do(owner, "POST", "/api/v1/goals", `{"title":"Owner goal"}`), 201, "goal")
			// The owner's feedback on the peer's clip.
			other := fe.clip(peer, "Peer lesson", "")
			mustStatus(t, fe.do(peer, "PUT", "/api/v1/clips/"+other.ID+"/audience", `{"emails":["teacher@example.org"]}`), 200, "share back")
			mustStatus(t, fe.do(owner, "POST", "/api/v1/clips/"+other.ID+"/annotations", `{"start_ms":0,"body":"Owner on peer clip"}`), 201, "annotate the peer's clip")

			res := mustStatus(t, fe.do(owner, "GET", "/api/v1/me/export", ""), 200, "export")
			if ct := res.header.Get("Content-Type"); ct != "application/zip" || !strings.Contains(res.header.Get("Content-Disposition"), "filmroom-export-") {
				t.Fatalf("export headers: %v", res.header)
			}
			files := unzip(t, res.body)
			dir := "clips/" + clip.ID + "-lesson-export-mp4/"
			for name, want := range map[string]string{
				"README.txt":                "filmroom data export",
				"account.json":              "teacher@example.org",
				dir + "clip.json":           `"consent"`,
				dir + "captions/en.vtt":     "Count with me",
				dir + "annotations.json":    "Peer praise",
				dir + "annotations.jsonld":  "Peer praise",
				"annotations-authored.json": "Owner on peer clip",
				"reflections.json":          "Owner reflection",
				"goals.json":                "Owner goal",
				"audit.json":                "clip.share",
			} {
				if got, ok := files[name]; !ok {
					t.Errorf("no %s in the export:\n%s", name, entryNames(files))
				} else if !strings.Contains(got, want) {
					t.Errorf("%s does not contain %q: %.400s", name, want, got)
				}
			}
			if files[dir+"original.mp4"] != string(data) {
				t.Errorf("the original in the export is %d bytes, the upload %d", len(files[dir+"original.mp4"]), len(data))
			}
			if !strings.Contains(files[dir+"annotations.json"], "Owner thanks") {
				t.Errorf("the reply is not exported: %s", files[dir+"annotations.json"])
			}
			for name, body := range files {
				if strings.Contains(body, "Peer secret") || strings.Contains(name, other.ID) {
					t.Errorf("the owner's export holds the peer's data in %s", name)
				}
			}
			// The peer's export has their own feedback, not the owner's clip.
			peerFiles := unzip(t, mustStatus(t, fe.do(peer, "GET", "/api/v1/me/export", ""), 200, "peer export").body)
			if !strings.Contains(peerFiles["annotations-authored.json"], "Peer praise") {
				t.Errorf("peer's authored feedback: %s", peerFiles["annotations-authored.json"])
			}
			for name, body := range peerFiles {
				if strings.Contains(name, clip.ID) || strings.Contains(body, "Owner reflection") || strings.Contains(body, "Owner goal") {
					t.Errorf("the peer's export holds the owner's data in %s", name)
				}
			}
			mustStatus(t, fe.do(person{}, "GET", "/api/v1/me/export", ""), 401, "anonymous export")
			read, err := fe.srv.Accounts.IssueToken(ctx, owner.user.ID, accounts.TokenInput{Name: "r", Scope: accounts.ScopeRead})
			if err != nil {
				t.Fatal(err)
			}
			mustStatus(t, fe.do(person{bearer: read.Token}, "GET", "/api/v1/me/export", ""), 403, "export with a read token")

			// Account deletion: refused while the owner runs a group alone.
			g, err := fe.srv.Accounts.CreateGroup(ctx, owner.user.Actor("session"), accounts.GroupInput{Name: "Owner's cohort"})
			if err != nil {
				t.Fatal(err)
			}
			inv, err := fe.srv.Accounts.CreateInvitation(ctx, owner.user.Actor("session"), g.ID, accounts.InvitationInput{Role: accounts.RolePeer})
			if err != nil {
				t.Fatal(err)
			}
			pa := peer.user.Actor("session")
			if _, _, err := fe.srv.Accounts.AcceptInvitation(ctx, inv.Token, &pa, accounts.NewUser{}); err != nil {
				t.Fatal(err)
			}
			full, err := fe.srv.Accounts.IssueToken(ctx, owner.user.ID, accounts.TokenInput{Name: "f", Scope: accounts.ScopeFull})
			if err != nil {
				t.Fatal(err)
			}
			const password = `{"password":"a long enough password"}`
			mustStatus(t, fe.do(person{bearer: full.Token}, "DELETE", "/api/v1/me", password), 403, "delete with a full token")
			mustStatus(t, fe.do(owner, "DELETE", "/api/v1/me", `{"password":"wrong password"}`), 400, "delete with a wrong password")
			res = mustStatus(t, fe.do(owner, "DELETE", "/api/v1/me", password), 409, "delete as the only facilitator")
			if !strings.Contains(res.body, "Owner's cohort") {
				t.Errorf("refusal does not name the group: %s", res.body)
			}
			if err := fe.srv.Accounts.SetMemberRole(ctx, owner.user.Actor("session"), g.ID, peer.user.ID, accounts.RoleFacilitator); err != nil {
				t.Fatal(err)
			}
			second, err := fe.srv.Accounts.CreateSession(ctx, owner.user.ID, "phone")
			if err != nil {
				t.Fatal(err)
			}
			mustStatus(t, fe.do(owner, "DELETE", "/api/v1/me", password), 204, "delete the account")
			mustStatus(t, fe.do(owner, "GET", "/api/v1/me", ""), 401, "the session after deletion")
			mustStatus(t, fe.do(person{session: second}, "GET", "/api/v1/me", ""), 401, "another session after deletion")
			mustStatus(t, fe.do(person{bearer: full.Token}, "GET", "/api/v1/me", ""), 401, "a token after deletion")

			for _, needle := range []string{owner.user.ID, "teacher@example.org", "Owner on peer clip", "Owner thanks"} {
				if rows := dbLeftovers(t, fe.db, needle); len(rows) > 0 {
					t.Errorf("the database still names %q in %v", needle, rows)
				}
			}
			fe.assertForgotten(t, clip.ID, clip.UploadID)
			if left := fe.storeLeftovers(t, owner.user.ID); len(left) > 0 {
				t.Errorf("storage still names the user: %v", left)
			}
			// The peer and what is theirs stay.
			mustStatus(t, fe.do(peer, "GET", "/api/v1/clips/"+other.ID, ""), 200, "the peer's clip")
			mustStatus(t, fe.do(peer, "GET", "/api/v1/groups/"+g.ID, ""), 200, "the group, now the peer's")
		})
	}
}

// TestAccountDeletionClosesLiveRooms: a person who deletes their account
// in one browser is put out of the live room they have open in another at
// once (the sign-in ended), and receives no event after it.
func TestAccountDeletionClosesLiveRooms(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	peer := w.people["peer"]
	victim := w.liveSocket(t, peer, "")
	other, err := w.srv.Accounts.CreateSession(context.Background(), peer.user.ID, "other browser")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, w.do(person{user: peer.user, session: other}, "DELETE", "/api/v1/me", `{"password":"a long enough password"}`), 204, "delete the account")
	mustStatus(t, w.do(w.people["owner"], "POST", "/api/v1/clips/"+w.clip+"/annotations", `{"start_ms":1000,"body":"after the deletion"}`), 201, "annotate")
	for {
		_, b, err := victim.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != live.CloseSignedOut {
				t.Fatalf("socket ended with %v, want close %d", err, live.CloseSignedOut)
			}
			return
		}
		if strings.Contains(string(b), `"type":"event"`) {
			t.Fatalf("the socket still receives events after the account was deleted: %s", b)
		}
	}
}

// zeros yields n zero bytes without holding them.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	clear(p[:k])
	z.n -= k
	return int(k), nil
}

// TestDataExportStreamsLargeClips: a clip far larger than the memory the
// export may use is streamed through: the heap in use while the archive is
// read grows by a fraction of the clip's size, and every byte arrives.
func TestDataExportStreamsLargeClips(t *testing.T) {
	t.Parallel()
	fe := newForgetEnv(t, forgetBackends()[0].db.Open(t), false, nil)
	owner := fe.user("teacher@example.org", "Tess", false)
	clip := fe.clip(owner, "Long lesson", "")
	const size = 160 << 20
	if err := fe.srv.media.store.Put(context.Background(), "clips/"+clip.ID+"/source/original", &zeros{n: size}, size, ""); err != nil {
		t.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	base := heap()
	req, _ := http.NewRequest("GET", fe.ts.URL+"/api/v1/me/export", nil)
	req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: owner.session.Token})
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var read, peak uint64
	buf := make([]byte, 1<<20)
	for {
		n, err := res.Body.Read(buf)
		read += uint64(n)
		// Sample every 16 MiB, mid-stream.
		if read>>24 != (read-uint64(n))>>24 {
			peak = max(peak, heap())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if read < size {
		t.Fatalf("the export is %d bytes, smaller than the clip (%d)", read, size)
	}
	if peak == 0 || peak > base+size/4 {
		t.Fatalf("heap in use went from %d to %d bytes while a %d-byte clip was exported", base, peak, size)
	}
	t.Logf("heap in use: %d MiB before, at most %d MiB during a %d MiB export", base>>20, peak>>20, size>>20)
}
