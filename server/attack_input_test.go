package server

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/media/storage"
)

// jsonRoutes are the matrix rows that take a JSON body.
func jsonRoutes() []route {
	var out []route
	for _, r := range stateChangingRoutes() {
		if r.body == nil || strings.HasPrefix(r.pattern, "/api/v1/uploads") {
			continue
		}
		if ct := r.headers["Content-Type"]; ct != "" && !strings.Contains(ct, "json") {
			continue
		}
		out = append(out, r)
	}
	return out
}

// jsonLimit is the largest body a JSON route reads: the annotations
// service reads larger ones (long Markdown, JSON-escaped), imports more.
func jsonLimit(r route) int {
	switch {
	case strings.HasSuffix(r.pattern, "/import"):
		return 16 << 20
	case strings.Contains(r.pattern, "/captions/"):
		return 5 << 20
	case strings.Contains(r.pattern, "/annotations") || strings.Contains(r.pattern, "/reflection") ||
		strings.HasPrefix(r.pattern, "/api/v1/rubrics") || strings.HasPrefix(r.pattern, "/api/v1/goals"):
		return 4 << 20
	}
	return 1 << 20
}

// annotationsJSON reports whether the annotations service reads r's body;
// it refuses invalid UTF-8 instead of letting encoding/json replace it.
func annotationsJSON(r route) bool {
	return r.pattern != "/api/v1/clips/:id/audience" && !strings.Contains(r.pattern, "/captions/") &&
		(strings.Contains(r.pattern, "/annotations") || strings.Contains(r.pattern, "/reflection") ||
			strings.HasPrefix(r.pattern, "/api/v1/rubrics") || strings.HasPrefix(r.pattern, "/api/v1/goals"))
}

type badBody struct {
	name   string
	body   func(w *world, r route) string
	status int
	code   string
	// only, when set, limits the payload to the routes it accepts.
	only func(r route) bool
}

func badJSON() []badBody {
	nested := strings.Repeat("[", 100_001) + strings.Repeat("]", 100_001)
	return []badBody{
		{name: "truncated JSON", body: func(*world, route) string { return `{"name":"x",` }, status: 400, code: "invalid_json"},
		{name: "not an object", body: func(*world, route) string { return `["a","b"]` }, status: 400, code: "invalid_input"},
		{name: "deeply nested", body: func(*world, route) string { return `{"x":` + nested + `}` }, status: 400, code: "invalid_json"},
		{name: "data after a valid object", body: func(w *world, r route) string { return r.body(w) + `{"admin":true}` }, status: 400, code: "invalid_json"},
		{name: "oversized", body: func(w *world, r route) string { return `{"title":"` + strings.Repeat("a", jsonLimit(r)+1024) + `"}` }, status: 413, code: "body_too_large"},
		{name: "invalid UTF-8 in a string", body: func(*world, route) string { return "{\"body\":\"caf\xe9 \xff\xfe\"}" }, status: 400, code: "invalid_utf8", only: annotationsJSON},
	}
}

func jsonCaseCount() int {
	n := 0
	for _, r := range jsonRoutes() {
		for _, b := range badJSON() {
			if b.only == nil || b.only(r) {
				n++
			}
		}
	}
	return n
}

// TestAttackMalformedJSON: every JSON route, sent by someone allowed to use
// it, refuses malformed, nested, oversized and trailing JSON with the JSON
// error shape and changes nothing.
func TestAttackMalformedJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	t.Logf("attack suite: malformed, oversized, nested JSON and invalid UTF-8: %d cases", jsonCaseCount())
	for _, r := range jsonRoutes() {
		for _, b := range badJSON() {
			if b.only != nil && !b.only(r) {
				continue
			}
			who := r.allowedActor()
			path := w.expand(r.path)
			if r.prepare != nil {
				path = r.prepare(w, who)
			}
			p := w.people[who]
			if r.pattern == "/api/v1/auth/logout" {
				p = w.people[who+"#logout"]
			}
			res := w.doWith(p, r.method, path, b.body(w, r), r.headers)
			what := r.method + " " + r.pattern + " as " + who + ", " + b.name
			if res.status != b.status {
				t.Errorf("%s: status %d, want %d: %.300s", what, res.status, b.status, res.body)
			}
			code := b.code
			if strings.HasSuffix(r.pattern, "/import") && (b.code == "invalid_json" || b.code == "invalid_input" && r.pattern == "/api/v1/rubrics/import") {
				// Imports are files: their errors say where in the file.
				code = "invalid_import"
			}
			checkRefusal(t, what, res, code)
		}
	}
	if title := w.clipTitle(); title != "Fractions lesson" {
		t.Errorf("a malformed request renamed the clip to %q", title)
	}
}

// tusCase is one tus request with broken headers; create makes a fresh
// upload of 5 bytes first and sends the request to it.
type tusCase struct {
	name    string
	method  string
	create  bool
	headers map[string]string
	body    string
	status  int
	text    string
}

func tusHeaders(kv ...string) map[string]string {
	h := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

func tusCases() []tusCase {
	meta := "filename bGVzc29uLm1wNA=="
	post := func(name string, h map[string]string, status int, text string) tusCase {
		if _, ok := h["Upload-Metadata"]; !ok {
			h["Upload-Metadata"] = meta
		}
		return tusCase{name: name, method: "POST", headers: h, status: status, text: text}
	}
	patch := func(name string, h map[string]string, body string, status int, text string) tusCase {
		return tusCase{name: name, method: "PATCH", create: true, headers: h, body: body, status: status, text: text}
	}
	ct := "application/offset+octet-stream"
	return []tusCase{
		post("negative Upload-Length", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "-1"), 400, "ERR_INVALID_UPLOAD_LENGTH"),
		post("non-numeric Upload-Length", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "five"), 400, "ERR_INVALID_UPLOAD_LENGTH"),
		post("Upload-Length beyond int64", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "99999999999999999999999"), 400, "ERR_INVALID_UPLOAD_LENGTH"),
		post("Upload-Length above the maximum", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "2147483648"), 413, "ERR_MAX_SIZE_EXCEEDED"),
		post("no Upload-Length", tusHeaders("Tus-Resumable", "1.0.0"), 400, "ERR_INVALID_UPLOAD_LENGTH"),
		post("zero-length upload", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "0"), 400, "empty"),
		post("wrong Tus-Resumable", tusHeaders("Tus-Resumable", "0.2.2", "Upload-Length", "5"), 412, "ERR_UNSUPPORTED_VERSION"),
		post("no Tus-Resumable", tusHeaders("Upload-Length", "5"), 412, "ERR_UNSUPPORTED_VERSION"),
		post("not a video", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "5", "Upload-Metadata",
			"filename "+b64("evil.html")+",filetype "+b64("text/html")), 415, "not a video or audio file"),
		post("share with a group one is not in", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Length", "5", "Upload-Metadata",
			meta+",group_id "+b64("{H}")), 403, "only share an upload with a group you belong to"),
		patch("Upload-Offset ahead of the upload", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "3", "Content-Type", ct), "lo", 409, "ERR_MISMATCHED_OFFSET"),
		patch("negative Upload-Offset", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "-1", "Content-Type", ct), "hello", 400, "ERR_INVALID_OFFSET"),
		patch("non-numeric Upload-Offset", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "zero", "Content-Type", ct), "hello", 400, "ERR_INVALID_OFFSET"),
		patch("no Upload-Offset", tusHeaders("Tus-Resumable", "1.0.0", "Content-Type", ct), "hello", 400, "ERR_INVALID_OFFSET"),
		patch("wrong Content-Type", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "0", "Content-Type", "application/json"), "hello", 400, "ERR_INVALID_CONTENT_TYPE"),
		patch("no Content-Type", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "0"), "hello", 400, "ERR_INVALID_CONTENT_TYPE"),
		patch("more bytes than Upload-Length", tusHeaders("Tus-Resumable", "1.0.0", "Upload-Offset", "0", "Content-Type", ct), "hello, and more", 413, "ERR_UPLOAD_SIZE_EXCEEDED"),
		patch("wrong Tus-Resumable", tusHeaders("Tus-Resumable", "0.2.2", "Upload-Offset", "0", "Content-Type", ct), "hello", 412, "ERR_UNSUPPORTED_VERSION"),
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// uploadPath creates an upload of length bytes as who and returns its path.
func (w *world) uploadPath(who string, length string, meta string) string {
	w.t.Helper()
	res := w.doWith(w.people[who], "POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": length, "Upload-Metadata": meta})
	if res.status != 201 {
		w.t.Fatalf("create upload: %d %s", res.status, res.body)
	}
	loc := res.header.Get("Location")
	return loc[strings.Index(loc, "/api/v1/uploads/"):]
}

// TestAttackTusHeaders: broken tus requests are refused with tus's error
// and leave the upload where it was (no clip is made of them).
func TestAttackTusHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cs := tusCases()
	t.Logf("attack suite: tus headers: %d cases", len(cs))
	for _, c := range cs {
		path := "/api/v1/uploads"
		if c.create {
			path = w.uploadPath("owner", "5", "filename "+b64("lesson.mp4"))
		}
		h := map[string]string{}
		for k, v := range c.headers {
			h[k] = strings.ReplaceAll(v, b64("{H}"), b64(w.h))
		}
		res := w.doWith(w.people["owner"], c.method, path, c.body, h)
		if res.status != c.status || !strings.Contains(res.body, c.text) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, res.status, res.body, c.status, c.text)
		}
		if c.create {
			head := w.doWith(w.people["owner"], "HEAD", path, "", map[string]string{"Tus-Resumable": "1.0.0"})
			if got := head.header.Get("Upload-Offset"); head.status != 200 || got != "0" {
				t.Errorf("%s: the upload moved to offset %q (%d)", c.name, got, head.status)
			}
		}
	}
	var list struct{ Clips []struct{ Title string } }
	w.do(w.people["owner"], "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
	if len(list.Clips) != 1 {
		t.Errorf("broken uploads made clips: %+v", list.Clips)
	}
}

// TestAttackUploadFilenames: the filename of an upload is a label, never a
// path: names that climb out, are absolute or carry NUL or backslashes
// make a clip whose media lives under its ID, and no file appears outside
// the data folder (or under the name anywhere).
func TestAttackUploadFilenames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	root := filepath.Dir(w.srv.cfg.DataDir)
	t.Logf("attack suite: path traversal in upload filenames: %d cases", len(uploadFilenameCases(root)))
	for _, name := range uploadFilenameCases(root) {
		meta := "filename " + b64(name) + ",filetype " + b64("video/mp4")
		path := w.uploadPath("owner", "5", meta)
		res := w.doWith(w.people["owner"], "PATCH", path, "hello", tusPatch())
		if res.status != 204 {
			t.Errorf("upload named %q: %d %s", name, res.status, res.body)
		}
	}
	// Every upload becomes a clip (delivery is asynchronous) whose source
	// is under clips/<id>/, and nothing named after the attack landed
	// anywhere in or around the data folder.
	want := 1 + len(uploadFilenameCases(root))
	var stored int
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var list struct{ Clips []struct{ ID string } }
		w.do(w.people["owner"], "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
		stored = 0
		for _, c := range list.Clips {
			if _, err := w.srv.media.store.Stat(context.Background(), "clips/"+c.ID+"/source/original"); err == nil {
				stored++
			}
		}
		if stored == want-1 && len(list.Clips) == want {
			break
		}
	}
	if stored != want-1 {
		t.Errorf("%d of %d uploads stored under their clip's ID", stored, want-1)
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.Contains(d.Name(), "escape-7f3a") {
			t.Errorf("an upload's filename became a file: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Relative names climb from wherever a store might have joined them,
	// possibly beyond root: look there too.
	dd := w.srv.cfg.DataDir
	for _, name := range uploadFilenameCases(root) {
		bases := []string{""}
		if !filepath.IsAbs(name) {
			bases = []string{dd, filepath.Join(dd, "uploads"), filepath.Join(dd, "media"), filepath.Join(dd, "media", "clips", "x"), filepath.Join(dd, "tmp")}
		}
		for _, b := range bases {
			p := filepath.Join(b, strings.ReplaceAll(name, `\`, "/"))
			if _, err := os.Stat(p); err == nil {
				t.Errorf("the upload named %q was written to %s", name, p)
			}
		}
	}
}

// uploadFilenameCases are the hostile names; the marker escape-7f3a finds
// any file made from them.
func uploadFilenameCases(root string) []string {
	return []string{
		"../../../escape-7f3a.mp4",
		"../../uploads/../escape-7f3a-2.mp4",
		filepath.Join(root, "escape-7f3a-abs.mp4"),
		`..\..\escape-7f3a-win.mp4`,
		"escape-7f3a\x00.mp4",
		"clips/../../escape-7f3a-key.mp4",
	}
}

// mediaPathCases are paths under a clip's media route that try to climb
// out of its folder, into another clip's or onto the disk.
func mediaPathCases() []string {
	return []string{
		"../../../../etc/passwd",
		"720p/../../../{C}/media/download.mp4",
		"..%2f..%2f{C}%2fmedia%2fdownload.mp4",
		"%2e%2e/%2e%2e/{C}/media/download.mp4",
		"720p/%2e%2e/%2e%2e/%2e%2e/{C}/media/download.mp4",
		"/etc/passwd",
		"%2fetc%2fpasswd",
		"720p//index.m3u8",
		"720p/./index.m3u8",
		`..\..\{C}\media\download.mp4`,
		"..%5c..%5c{C}%5cmedia%5cdownload.mp4",
	}
}

// TestAttackMediaPaths: the attacker's own clip A's media route never
// serves clip C's files or anything else on disk.
func TestAttackMediaPaths(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.env.clip(w.people["outsider"], "Attacker clip", "").ID
	if err := w.srv.media.store.Put(context.Background(), "clips/"+a+"/media/720p/index.m3u8", strings.NewReader("#EXTM3U\n"), 8, ""); err != nil {
		t.Fatal(err)
	}
	cs := mediaPathCases()
	t.Logf("attack suite: path traversal in media paths: %d cases", len(cs))
	for _, p := range cs {
		path := "/api/v1/clips/" + a + "/media/" + strings.ReplaceAll(p, "{C}", w.clip)
		res := w.do(w.people["outsider"], "GET", path, "")
		if res.status != 404 {
			t.Errorf("GET %s: %d, want 404: %.200s", path, res.status, res.body)
		}
		checkRefusal(t, "GET "+path, res, "not_found")
		if strings.Contains(res.body, "not really an mp4") || strings.Contains(res.body, "root:") {
			t.Errorf("GET %s served a file it must not: %.200s", path, res.body)
		}
	}
}

// objectKeyCases are keys no object may have: the local store would turn
// them into paths outside its folder (and S3 keys must match them).
func objectKeyCases() []string {
	return []string{"../escape", "clips/../../escape", "/etc/passwd", `clips\..\..\escape`, "clips/x\x00/source",
		"clips//source", "clips/./source", "", "clips/\xff/source", strings.Repeat("k/", 600)}
}

// TestAttackObjectKeys: the media store refuses keys that climb out of
// it, on every operation, before touching the disk.
func TestAttackObjectKeys(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	st := w.srv.media.store
	cs := objectKeyCases()
	t.Logf("attack suite: object keys: %d cases", len(cs))
	for _, key := range cs {
		if err := st.Put(ctx, key, strings.NewReader("x"), 1, ""); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put %q: %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.Open(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open %q: %v, want ErrInvalidKey", key, err)
		}
		if _, err := st.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat %q: %v, want ErrInvalidKey", key, err)
		}
		if err := st.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete %q: %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := os.Stat(filepath.Join(w.srv.cfg.DataDir, "escape")); err == nil {
		t.Error("a key climbed out of the media folder")
	}
}

// captionFileCase is a caption upload an attacker (or a broken tool) sends.
type captionFileCase struct {
	name, lang, contentType, body string
	status                        int
	code                          string
}

func captionFileCases() []captionFileCase {
	vtt := "text/vtt"
	return []captionFileCase{
		{"binary file", "en", vtt, "\x00\x01\x02\x03WEBVTT\x00\x00\x10\x11", 400, "invalid_captions"},
		{"not a caption file", "en", vtt, "<html><script>alert(1)</script></html>", 400, "invalid_captions"},
		{"seconds out of range", "en", vtt, "WEBVTT\n\n00:00:99.000 --> 00:01:00.000\nHi\n", 400, "invalid_captions"},
		{"letters in a timestamp", "en", vtt, "WEBVTT\n\naa:bb:cc.ddd --> 00:00:02.000\nHi\n", 400, "invalid_captions"},
		{"end before start", "en", vtt, "WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nHi\n", 400, "invalid_captions"},
		{"negative timestamp", "en", vtt, "WEBVTT\n\n-00:00:01.000 --> 00:00:02.000\nHi\n", 400, "invalid_captions"},
		{"huge timestamp", "en", vtt, "WEBVTT\n\n99999999999999999999:00:00.000 --> 99999999999999999999:00:01.000\nHi\n", 400, "invalid_captions"},
		{"one line larger than the limit", "en", vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + strings.Repeat("a", 6<<20) + "\n", 413, "too_large"},
		{"larger than the limit", "en", vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n" + strings.Repeat("a\n", 3<<20) + "\n", 413, "too_large"},
		{"SRT with a broken timing line", "en", "application/x-subrip", "1\n00:00:01,000 -> 00:00:02,000\nHi\n", 400, "invalid_captions"},
		{"empty file", "en", vtt, "", 400, "invalid_captions"},
		{"language that climbs out", "..%2f..%2fescape", vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n", 400, "invalid_input"},
		{"language with a slash", "en%2f..%2f..", vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n", 400, "invalid_input"},
	}
}

// TestAttackCaptionFiles: broken caption files are refused with a reason
// and leave the clip's captions as they were.
func TestAttackCaptionFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.captionsSeeded()
	cs := captionFileCases()
	t.Logf("attack suite: caption files: %d cases", len(cs))
	before := w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip+"/captions", "").body
	for _, c := range cs {
		res := w.doWith(w.people["owner"], "PUT", "/api/v1/clips/"+w.clip+"/captions/"+c.lang, c.body, map[string]string{"Content-Type": c.contentType})
		if res.status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, res.status, c.status, res.body)
		}
		checkRefusal(t, c.name, res, c.code)
	}
	if after := w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip+"/captions", "").body; after != before {
		t.Errorf("refused caption files changed the captions:\nbefore %s\nafter  %s", before, after)
	}
}
