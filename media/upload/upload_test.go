package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media/storage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsvc.StopMinIO()
	os.Exit(code)
}

const basePath = "/api/v1/uploads/"

// target is one place uploads can live; every scenario runs on each.
type target struct {
	name string
	// storage returns a Config with Local or S3 set; calling the returned
	// config maker again yields the same storage (for restarts).
	storage func(t *testing.T) func(Config) Config
}

func targets() []target {
	return []target{
		{"local", func(t *testing.T) func(Config) Config {
			dir := t.TempDir()
			return func(c Config) Config { c.Local = dir; return c }
		}},
		{"s3", func(t *testing.T) func(Config) Config {
			env := testsvc.MinIO(t)
			client, err := storage.NewS3Client(context.Background(), storage.S3Config{
				Endpoint: env.Endpoint, Region: env.Region, Bucket: env.Bucket,
				AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			tmp := t.TempDir()
			return func(c Config) Config {
				c.S3 = &S3Target{Client: client, Bucket: env.Bucket, Prefix: "uploads/", TempDir: tmp}
				return c
			}
		}},
	}
}

// fixture is a running endpoint plus what the callbacks saw.
type fixture struct {
	t         *testing.T
	u         *Uploads
	srv       *httptest.Server
	completed chan Finished
	calls     *atomic.Int64

	mu      sync.Mutex
	cond    *sync.Cond
	patches int // PATCH requests the server has finished handling
}

// patchesDone returns how many PATCH requests the server has finished.
func (f *fixture) patchesDone() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.patches
}

// waitPatches blocks until the server has finished more than n PATCHes.
func (f *fixture) waitPatches(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.patches <= n {
		f.cond.Wait()
	}
}

func (f *fixture) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if r.Method == http.MethodPatch {
				f.mu.Lock()
				f.patches++
				f.cond.Broadcast()
				f.mu.Unlock()
			}
		}()
		h.ServeHTTP(w, r)
	})
}

type options struct {
	completed func(ctx context.Context, f Finished) error
	now       func() time.Time
}

// start runs Uploads over the storage in withStorage with test callbacks:
// the user is the X-User header ("blocked" is forbidden); Validate wants a
// title and a video filetype and allows 2 MB per upload.
func start(t *testing.T, withStorage func(Config) Config, opt options) *fixture {
	t.Helper()
	f := &fixture{t: t, completed: make(chan Finished, 16), calls: &atomic.Int64{}}
	f.cond = sync.NewCond(&f.mu)
	cfg := withStorage(Config{
		BasePath: basePath,
		MaxSize:  4 << 20,
		Authorize: func(r *http.Request) (string, error) {
			switch u := r.Header.Get("X-User"); u {
			case "":
				return "", errors.New("no session")
			case "blocked":
				return "", apperr.Forbidden("account suspended")
			default:
				return u, nil
			}
		},
		Validate: func(_ context.Context, userID string, meta map[string]string, size int64) error {
			if meta["title"] == "" {
				return apperr.Invalid("title", "give the lesson a title")
			}
			if !strings.HasPrefix(meta["filetype"], "video/") {
				return apperr.New(apperr.ErrUnsupported, "not_video", "only video files can be uploaded")
			}
			if size > 2_000_000 {
				return apperr.New(apperr.ErrTooLarge, "quota", "this clip is larger than your 2 MB quota")
			}
			return nil
		},
		Completed: func(ctx context.Context, fin Finished) error {
			f.calls.Add(1)
			if opt.completed != nil {
				if err := opt.completed(ctx, fin); err != nil {
					return err
				}
			}
			f.completed <- fin
			return nil
		},
		Now: opt.now,
	})
	u, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(basePath, f.track(u))
	f.u, f.srv = u, httptest.NewServer(mux)
	t.Cleanup(f.stop)
	return f
}

func (f *fixture) stop() {
	f.srv.Close()
	_ = f.u.Close()
}

// A tiny tus 1.0 client: just enough protocol to act like a browser's
// tus-js-client, so the tests exercise the real wire format.

func (f *fixture) do(method, url, user string, hdr map[string]string, body io.Reader, length int64) *http.Response {
	f.t.Helper()
	if !strings.HasPrefix(url, "http") {
		url = f.srv.URL + url
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if length >= 0 {
		req.ContentLength = length
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, url, err)
	}
	f.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func encodeMeta(meta map[string]string) string {
	var parts []string
	for k, v := range meta {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func videoMeta() map[string]string {
	return map[string]string{"title": "Fractions, period 3", "filename": "lesson.mp4", "filetype": "video/mp4"}
}

// create POSTs a new upload and returns its URL.
func (f *fixture) create(user string, size int64, meta map[string]string) string {
	f.t.Helper()
	resp := f.do(http.MethodPost, basePath, user, map[string]string{
		"Upload-Length": strconv.FormatInt(size, 10), "Upload-Metadata": encodeMeta(meta),
	}, nil, 0)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		f.t.Fatalf("create: status %d: %s", resp.StatusCode, b)
	}
	loc := resp.Header.Get("Location")
	if !strings.Contains(loc, basePath) {
		f.t.Fatalf("Location %q lacks the base path", loc)
	}
	return loc
}

func (f *fixture) patch(url, user string, offset int64, chunk []byte) *http.Response {
	f.t.Helper()
	return f.do(http.MethodPatch, url, user, map[string]string{
		"Upload-Offset": strconv.FormatInt(offset, 10), "Content-Type": "application/offset+octet-stream",
	}, bytes.NewReader(chunk), int64(len(chunk)))
}

// head returns the status and the server's offset for an upload.
func (f *fixture) head(url, user string) (int, int64) {
	f.t.Helper()
	resp := f.do(http.MethodHead, url, user, nil, nil, -1)
	off, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return resp.StatusCode, off
}

// send PATCHes data from offset in chunks, checking each new offset.
func (f *fixture) send(url, user string, data []byte, from int64, chunk int) {
	f.t.Helper()
	for off := from; off < int64(len(data)); {
		end := min(off+int64(chunk), int64(len(data)))
		resp := f.patch(url, user, off, data[off:end])
		if resp.StatusCode != http.StatusNoContent {
			b, _ := io.ReadAll(resp.Body)
			f.t.Fatalf("PATCH at %d: status %d: %s", off, resp.StatusCode, b)
		}
		if got := resp.Header.Get("Upload-Offset"); got != strconv.FormatInt(end, 10) {
			f.t.Fatalf("PATCH at %d: new offset %s, want %d", off, got, end)
		}
		off = end
	}
}

func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// checkFinished verifies what Completed received against what was sent.
func checkFinished(t *testing.T, fin Finished, user string, data []byte) {
	t.Helper()
	if fin.UserID != user || fin.Size != int64(len(data)) || fin.SHA256 != sha(data) {
		t.Fatalf("Finished = user %q size %d sha %s; want %q %d %s", fin.UserID, fin.Size, fin.SHA256, user, len(data), sha(data))
	}
	if fin.Meta["title"] != "Fractions, period 3" || fin.Meta["filetype"] != "video/mp4" {
		t.Fatalf("Finished.Meta = %v", fin.Meta)
	}
	if _, leaked := fin.Meta[ownerKey]; leaked {
		t.Fatalf("owner entry leaked into client metadata: %v", fin.Meta)
	}
	rc, err := fin.Open(context.Background())
	if err != nil {
		t.Fatalf("Finished.Open: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Finished.Open read %d bytes (%v), differ from the %d sent", len(got), err, len(data))
	}
}

func TestUploadFlow(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tg.storage(t), options{})
			data := payload(1_500_000, 1)
			url := f.create("alice", int64(len(data)), videoMeta())
			if status, off := f.head(url, "alice"); status != http.StatusOK || off != 0 {
				t.Fatalf("HEAD new upload: %d offset %d", status, off)
			}
			f.send(url, "alice", data[:700_000], 0, 350_000)
			if status, off := f.head(url, "alice"); status != http.StatusOK || off != 700_000 {
				t.Fatalf("HEAD mid-upload: %d offset %d", status, off)
			}
			f.send(url, "alice", data, 700_000, 400_000)
			fin := <-f.completed
			checkFinished(t, fin, "alice", data)
			if err := fin.Remove(context.Background()); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if status, _ := f.head(url, "alice"); status != http.StatusNotFound {
				t.Fatalf("HEAD after Remove: %d, want 404", status)
			}
			if n := f.calls.Load(); n != 1 {
				t.Fatalf("Completed called %d times", n)
			}
		})
	}
}

func TestCreateRejected(t *testing.T) {
	t.Parallel()
	f := start(t, targets()[0].storage(t), options{})
	noTitle := videoMeta()
	delete(noTitle, "title")
	pdf := videoMeta()
	pdf["filetype"] = "application/pdf"
	cases := []struct {
		name     string
		user     string
		size     string
		meta     map[string]string
		extra    map[string]string
		status   int
		bodyPart string
	}{
		{"no session", "", "1000", videoMeta(), nil, http.StatusUnauthorized, "sign in"},
		{"suspended", "blocked", "1000", videoMeta(), nil, http.StatusForbidden, "may not upload"},
		{"over server limit", "alice", strconv.Itoa(5 << 20), videoMeta(), nil, http.StatusRequestEntityTooLarge, ""},
		{"over quota", "alice", "3000000", videoMeta(), nil, http.StatusRequestEntityTooLarge, "larger than your 2 MB quota"},
		{"not a video", "alice", "1000", pdf, nil, http.StatusUnsupportedMediaType, "only video files can be uploaded"},
		{"no title", "alice", "1000", noTitle, nil, http.StatusBadRequest, "give the lesson a title"},
		{"deferred length", "alice", "", videoMeta(), map[string]string{"Upload-Defer-Length": "1"}, http.StatusBadRequest, "Upload-Length"},
		{"no tus version", "alice", "1000", videoMeta(), map[string]string{"Tus-Resumable": "0.2.0"}, http.StatusPreconditionFailed, ""},
	}
	for _, c := range cases {
		hdr := map[string]string{"Upload-Metadata": encodeMeta(c.meta)}
		if c.size != "" {
			hdr["Upload-Length"] = c.size
		}
		for k, v := range c.extra {
			hdr[k] = v
		}
		resp := f.do(http.MethodPost, basePath, c.user, hdr, nil, 0)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.bodyPart) {
			t.Errorf("%s: status %d body %q; want %d containing %q", c.name, resp.StatusCode, body, c.status, c.bodyPart)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("Completed called %d times for rejected uploads", n)
	}
}

func TestOptionsNeedsNoSession(t *testing.T) {
	t.Parallel()
	f := start(t, targets()[0].storage(t), options{})
	resp := f.do(http.MethodOptions, basePath, "", nil, nil, -1)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Tus-Version") != "1.0.0" || resp.Header.Get("Tus-Max-Size") != strconv.Itoa(4<<20) {
		t.Fatalf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestOnlyOwnerMayTouchUpload(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tg.storage(t), options{})
			data := payload(1000, 2)
			url := f.create("alice", int64(len(data)), videoMeta())
			// The client must not be able to claim someone else's upload by
			// sending the owner entry itself.
			spoof := videoMeta()
			spoof[ownerKey] = "bob"
			spoofed := f.create("alice", 10, spoof)

			cases := []struct {
				name, method, url, user string
				want                    int
			}{
				{"other user HEAD", http.MethodHead, url, "bob", http.StatusNotFound},
				{"other user PATCH", http.MethodPatch, url, "bob", http.StatusNotFound},
				{"other user DELETE", http.MethodDelete, url, "bob", http.StatusNotFound},
				{"no session HEAD", http.MethodHead, url, "", http.StatusUnauthorized},
				{"spoofed owner HEAD", http.MethodHead, spoofed, "bob", http.StatusNotFound},
				{"unknown id", http.MethodHead, basePath + "0123456789abcdef", "alice", http.StatusNotFound},
				{"path escape", http.MethodHead, basePath + "..%2f..%2fetc%2fpasswd", "alice", http.StatusNotFound},
				{"GET is not offered", http.MethodGet, url, "alice", http.StatusMethodNotAllowed},
				{"owner HEAD", http.MethodHead, url, "alice", http.StatusOK},
			}
			for _, c := range cases {
				var resp *http.Response
				if c.method == http.MethodPatch {
					resp = f.patch(c.url, c.user, 0, data)
				} else {
					resp = f.do(c.method, c.url, c.user, nil, nil, -1)
				}
				if resp.StatusCode != c.want {
					t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
				}
			}
			if _, off := f.head(url, "alice"); off != 0 {
				t.Fatalf("another user's PATCH moved the offset to %d", off)
			}
			if resp := f.do(http.MethodDelete, url, "alice", nil, nil, -1); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("owner DELETE: %d", resp.StatusCode)
			}
			if status, _ := f.head(url, "alice"); status != http.StatusNotFound {
				t.Fatalf("HEAD after DELETE: %d", status)
			}
		})
	}
}

func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			withStorage := tg.storage(t)
			data := payload(1_200_000, 3)

			first := start(t, withStorage, options{})
			url := first.create("alice", int64(len(data)), videoMeta())
			first.send(url, "alice", data[:600_000], 0, 300_000)
			first.stop()

			second := start(t, withStorage, options{})
			url = second.srv.URL + url[strings.Index(url, basePath):] // same upload, new server
			status, off := second.head(url, "alice")
			if status != http.StatusOK || off != 600_000 {
				t.Fatalf("HEAD after restart: %d offset %d, want 200 and 600000", status, off)
			}
			second.send(url, "alice", data, off, 300_000)
			checkFinished(t, <-second.completed, "alice", data)
			second.stop()
			if n := first.calls.Load() + second.calls.Load(); n != 1 {
				t.Fatalf("Completed called %d times, want once", n)
			}
		})
	}
}

func TestDroppedConnectionResumes(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tg.storage(t), options{})
			data := payload(1_000_000, 4)
			url := f.create("alice", int64(len(data)), videoMeta())

			// A PATCH that declares the whole file, delivers 400 kB and then
			// loses its connection, written on a raw socket so the server
			// surely receives the headers and those bytes.
			before := f.patchesDone()
			conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			path := url[strings.Index(url, basePath):]
			fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: test\r\nTus-Resumable: 1.0.0\r\nX-User: alice\r\n"+
				"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", path, len(data))
			if _, err := conn.Write(data[:400_000]); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			f.waitPatches(before) // the server has stored what it got

			status, off := f.head(url, "alice")
			if status != http.StatusOK || off != 400_000 {
				t.Fatalf("HEAD after drop: %d offset %d, want 200 and 400000", status, off)
			}
			f.send(url, "alice", data, off, 250_000)
			checkFinished(t, <-f.completed, "alice", data)
		})
	}
}

func TestSweepRemovesAbandoned(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			var skew atomic.Int64 // how far the test clock runs ahead
			f := start(t, tg.storage(t), options{now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
			ctx := context.Background()

			abandoned := f.create("alice", 500_000, videoMeta())
			f.send(abandoned, "alice", payload(200_000, 5), 0, 200_000)
			finishedData := payload(1000, 6)
			finished := f.create("alice", int64(len(finishedData)), videoMeta())
			f.send(finished, "alice", finishedData, 0, 1000)
			<-f.completed

			if n, err := f.u.Sweep(ctx, time.Hour); err != nil || n != 0 {
				t.Fatalf("Sweep of fresh uploads removed %d (%v)", n, err)
			}
			skew.Store(int64(2 * time.Hour))
			if n, err := f.u.Sweep(ctx, time.Hour); err != nil || n != 1 {
				t.Fatalf("Sweep after 2h removed %d (%v), want 1", n, err)
			}
			if status, _ := f.head(abandoned, "alice"); status != http.StatusNotFound {
				t.Fatalf("abandoned upload still there: %d", status)
			}
			if status, _ := f.head(finished, "alice"); status != http.StatusOK {
				t.Fatalf("finished upload swept: %d", status)
			}
		})
	}
}

// TestDeliveryRecoveredAfterCrash: the server stops while Completed is
// running; the next start delivers the upload again and records it, so a
// third start has nothing left to deliver.
func TestDeliveryRecoveredAfterCrash(t *testing.T) {
	t.Parallel()
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			withStorage := tg.storage(t)
			data := payload(300_000, 7)
			var once sync.Once
			started := make(chan struct{})
			first := start(t, withStorage, options{completed: func(ctx context.Context, _ Finished) error {
				once.Do(func() { close(started) })
				<-ctx.Done() // hangs until shutdown, like a crash mid-delivery
				return ctx.Err()
			}})
			url := first.create("alice", int64(len(data)), videoMeta())
			first.send(url, "alice", data, 0, len(data))
			<-started
			first.stop()

			second := start(t, withStorage, options{})
			fin := <-second.completed
			checkFinished(t, fin, "alice", data)
			id := url[strings.LastIndex(url, "/")+1:]
			if fin.UploadID != id {
				t.Fatalf("recovered upload %q, want %q", fin.UploadID, id)
			}
			second.stop()
			done, err := second.u.backend.isDone(context.Background(), id)
			if err != nil || !done {
				t.Fatalf("delivery not recorded: %v %v", done, err)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	good := []string{"0123abcd", "3f1a9c+MjY4ZDk4YzEtYjQ1Yy00.NjE0LWE2N2Mt_ZmE1~YjA4=", "a.b"}
	bad := []string{"", "..", "../x", "a/b", ".info", "a\\b", "a b", strings.Repeat("a", 600)}
	for _, id := range good {
		if err := validID(id); err != nil {
			t.Errorf("validID(%q) = %v", id, err)
		}
	}
	for _, id := range bad {
		if validID(id) == nil {
			t.Errorf("validID(%q) accepted", id)
		}
	}
}

// TestStalledPatchIsInterruptedByResume: a PATCH whose connection stalls
// (wifi gone, no FIN) must not block the client's resume: the HEAD stops it,
// gets the offset of what arrived, and the upload finishes, with no data
// race between the two requests. Local storage only: with tusd's s3store
// the stalled read ends at tusd's 60 s network timeout, not at once (a
// known limit, in the package doc).
func TestStalledPatchIsInterruptedByResume(t *testing.T) {
	t.Parallel()
	for _, tg := range targets()[:1] {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, tg.storage(t), options{})
			data := payload(1_000_000, 7)
			url := f.create("alice", int64(len(data)), videoMeta())
			conn, err := net.Dial("tcp", f.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			path := url[strings.Index(url, basePath):]
			fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: test\r\nTus-Resumable: 1.0.0\r\nX-User: alice\r\n"+
				"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n", path, len(data))
			if _, err := conn.Write(data[:300_000]); err != nil {
				t.Fatal(err)
			}
			// The connection stays open and silent. Resume until the server
			// has all 300 kB (it may still be reading them when HEAD arrives).
			var off int64
			for off < 300_000 {
				status, o := f.head(url, "alice")
				if status != http.StatusOK {
					t.Fatalf("HEAD while a PATCH stalls: %d", status)
				}
				if o == off && o > 0 {
					break
				}
				off = o
			}
			f.send(url, "alice", data, off, 250_000)
			checkFinished(t, <-f.completed, "alice", data)
		})
	}
}
