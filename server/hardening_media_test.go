package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// signedSegment returns the first segment URI of the world's rendition
// playlist as who sees it.
func signedSegment(w *world, who string) string {
	w.t.Helper()
	res := w.do(w.people[who], "GET", w.expand("/api/v1/clips/{C}/media/720p/index.m3u8"), "")
	if res.status != 200 {
		w.t.Fatalf("playlist for %s: %d %s", who, res.status, res.body)
	}
	for _, line := range strings.Split(res.body, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	w.t.Fatalf("no segment in %q", res.body)
	return ""
}

// TestSignedMediaLinks: a playlist hands out segment links signed for its
// viewer; they work without cookies, only for the file they name, only
// until they expire, and only while the viewer may still see the clip.
func TestSignedMediaLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	const segment = "four seconds of a lesson"
	if err := w.srv.media.store.Put(ctx, "clips/"+w.clip+"/media/720p/seg_000.ts", strings.NewReader(segment), int64(len(segment)), ""); err != nil {
		t.Fatal(err)
	}
	base := w.ts.URL + w.expand("/api/v1/clips/{C}/media/720p/")
	get := func(url string) response {
		req, _ := http.NewRequest("GET", url, nil)
		return w.raw(req)
	}
	uri := signedSegment(w, "peer")
	if !strings.HasPrefix(uri, "seg_000.ts?") {
		t.Fatalf("segment URI %q", uri)
	}
	res := get(base + uri)
	if res.status != 200 || res.body != segment || res.header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("signed segment without cookies: %d %q %q", res.status, res.body, res.header.Get("Cache-Control"))
	}
	if res := get(base + "seg_000.ts"); res.status != 401 {
		t.Errorf("unsigned segment without cookies: %d", res.status)
	}
	query := uri[strings.Index(uri, "?"):]
	forge := func(q string) string {
		v, err := url.ParseQuery(q[1:])
		if err != nil {
			t.Fatal(err)
		}
		mac := []byte(v.Get("s"))
		mac[0] ^= 1
		v.Set("s", string(mac))
		return "?" + v.Encode()
	}
	for name, url := range map[string]string{
		"another file":   w.ts.URL + w.expand("/api/v1/clips/{C}/media/download.mp4") + query,
		"another person": base + "seg_000.ts" + strings.Replace(query, "u="+w.people["peer"].user.ID, "u="+w.people["owner"].user.ID, 1),
		"forged MAC":     base + "seg_000.ts" + forge(query),
	} {
		if res := get(url); res.status != 403 || !strings.Contains(res.body, "media_link_invalid") {
			t.Errorf("%s: %d %s", name, res.status, res.body)
		}
	}
	// A link that has expired says so (the player then reloads the playlist).
	key, err := media.SigningKey(ctx, w.db, "")
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	old := media.NewURLSigner(key, nil).Query(w.clip, "720p/seg_000.ts", w.people["peer"].user.ID, past)
	if res := get(base + "seg_000.ts?" + old); res.status != 403 || !strings.Contains(res.body, "media_link_expired") {
		t.Errorf("expired link: %d %s", res.status, res.body)
	}
	// Removing the peer from the group the clip is shared with stops the
	// link they already hold, at once.
	if err := w.srv.Accounts.RemoveMember(ctx, w.people["facilitator"].user.Actor("session"), w.g, w.people["peer"].user.ID); err != nil {
		t.Fatal(err)
	}
	if res := get(base + uri); res.status != 404 {
		t.Errorf("link of a removed viewer: %d %s", res.status, res.body)
	}
	// The owner's own links keep working.
	if res := get(base + signedSegment(w, "owner")); res.status != 200 {
		t.Errorf("owner's link: %d", res.status)
	}
}

// TestMediaURLsExpireOnS3: with media on S3 the playlist holds signed links
// to this server (checked on each request), never presigned URLs, and a
// link redirects to a URL presigned for a minute only.
func TestMediaURLsExpireOnS3(t *testing.T) {
	t.Parallel()
	store := testsvc.MinIO(t)
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	e := newEnvWith(t, db, func(c *Config) {
		c.S3Endpoint, c.S3Region, c.S3Bucket, c.S3AccessKey, c.S3SecretKey, c.S3PathStyle = store.Endpoint, store.Region, store.Bucket, store.AccessKey, store.SecretKey, true
	})
	ctx := context.Background()
	owner := e.user("owner@example.org", "Owner", false)
	clip := e.clip(owner, "S3 lesson", "")
	for key, data := range map[string]string{"720p/index.m3u8": "#EXTM3U\n#EXTINF:4,\nseg_000.ts\n#EXT-X-ENDLIST\n", "720p/seg_000.ts": "segment"} {
		if err := e.srv.media.store.Put(ctx, "clips/"+clip.ID+"/media/"+key, strings.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	res := e.do(owner, "GET", "/api/v1/clips/"+clip.ID+"/media/720p/index.m3u8", "")
	if res.status != 200 || strings.Contains(res.body, "X-Amz") || !strings.Contains(res.body, "seg_000.ts?") {
		t.Fatalf("playlist: %d %s", res.status, res.body)
	}
	uri := strings.Split(strings.TrimSpace(res.body), "\n")[2]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(e.ts.URL + "/api/v1/clips/" + clip.ID + "/media/720p/" + uri)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 302 || !strings.Contains(loc, "X-Amz-Expires=60&") {
		t.Fatalf("signed link on S3: %d %q", resp.StatusCode, loc)
	}
}

// TestBadMediaPaths: paths the pipeline never writes are "not found" and
// log no error (they used to reach the store and answer 500).
func TestBadMediaPaths(t *testing.T) {
	t.Parallel()
	rec := &logRecorder{}
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: t.TempDir(), Migrate: true}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, db: db}
	e.ts = newTestServer(t, srv)
	owner := e.user("owner@example.org", "Owner", false)
	clip := e.clip(owner, "Lesson", "")
	const playlist = "#EXTM3U\n#EXTINF:4,\nseg_000.ts\n#EXT-X-ENDLIST\n"
	if err := srv.media.store.Put(context.Background(), "clips/"+clip.ID+"/media/720p/index.m3u8", strings.NewReader(playlist), int64(len(playlist)), ""); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"%00", "720p/%00.ts", ".hidden", "720p/.index.m3u8.meta", "720p/.x.m3u8", "..%2f..%2fsource/original",
		"720p/%2e%2e/%2e%2e/source/original", "720p//index.m3u8", "720p/a%5cb.ts", "720p/%0aseg.ts", "%ff.ts", "720p/index.m3u8/"} {
		res := e.do(owner, "GET", "/api/v1/clips/"+clip.ID+"/media/"+p, "")
		if res.status != 404 {
			t.Errorf("%s: %d %s", p, res.status, res.body)
		}
	}
	if res := e.do(owner, "GET", "/api/v1/clips/"+clip.ID+"/media/720p/index.m3u8", ""); res.status != 200 {
		t.Errorf("the real playlist: %d", res.status)
	}
	if errs := rec.errors(); len(errs) > 0 {
		t.Errorf("bad media paths logged errors: %q", errs)
	}
}
