package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/media/storage"
)

// Exercise runs the shared suite. newStore must return a fresh, empty store
// for each call; subtests run in parallel, each with its own store.
func Exercise(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s storage.Store)
	}{
		{"put_get_roundtrip", testPutGet},
		{"put_unknown_size", testPutUnknownSize},
		{"empty_object", testEmptyObject},
		{"overwrite", testOverwrite},
		{"stat", testStat},
		{"range_seek", testRangeSeek},
		{"serve_content_range", testServeContent},
		{"list", testList},
		{"delete", testDelete},
		{"delete_prefix", testDeletePrefix},
		{"not_found", testNotFound},
		{"bad_keys", testBadKeys},
		{"size_mismatch", testSizeMismatch},
		{"large_object", testLargeObject},
		{"content_types", testContentTypes},
		{"canceled_context", testCanceled},
		{"presign", testPresign},
		{"put_file", testPutFile},
		{"local_file", testLocalFile},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// payload returns n deterministic pseudo-random bytes, different per seed.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s storage.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s storage.Store, key string) ([]byte, storage.Info) {
	t.Helper()
	obj, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b, obj.Info()
}

func keys(infos []storage.Info) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.Key
	}
	return out
}

func testPutGet(t *testing.T, s storage.Store) {
	data := payload(70_000, 1)
	key := "clips/c1/hls/720p/seg_001.ts"
	put(t, s, key, data, "video/mp2t")
	got, info := get(t, s, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, differ from the %d written", len(got), len(data))
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ContentType != "video/mp2t" || info.ETag == "" {
		t.Fatalf("Info = %+v", info)
	}
}

// onlyReader hides any Seek/WriteTo/Len a store could use to learn the size.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testPutUnknownSize(t *testing.T, s storage.Store) {
	data := payload(123_457, 2)
	if err := s.Put(context.Background(), "a/unknown.bin", onlyReader{bytes.NewReader(data)}, -1, ""); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, info := get(t, s, "a/unknown.bin")
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) {
		t.Fatalf("read back %d bytes (size %d), want %d", len(got), info.Size, len(data))
	}
}

func testEmptyObject(t *testing.T, s storage.Store) {
	put(t, s, "empty.txt", nil, "")
	got, info := get(t, s, "empty.txt")
	if len(got) != 0 || info.Size != 0 {
		t.Fatalf("got %d bytes, size %d", len(got), info.Size)
	}
}

func testOverwrite(t *testing.T, s storage.Store) {
	put(t, s, "p/poster.jpg", []byte("first version"), "image/jpeg")
	first, err := s.Stat(context.Background(), "p/poster.jpg")
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "p/poster.jpg", []byte("second, longer version"), "image/jpeg")
	got, info := get(t, s, "p/poster.jpg")
	if string(got) != "second, longer version" {
		t.Fatalf("got %q after overwrite", got)
	}
	if info.ETag == first.ETag {
		t.Fatalf("ETag %q did not change when the content did", info.ETag)
	}
	list, err := s.List(context.Background(), "p")
	if err != nil || len(list) != 1 {
		t.Fatalf("List after overwrite = %v, %v; want exactly one object", keys(list), err)
	}
}

func testStat(t *testing.T, s storage.Store) {
	data := payload(4096, 3)
	put(t, s, "clips/c1/captions/en.vtt", data, "text/vtt")
	info, err := s.Stat(context.Background(), "clips/c1/captions/en.vtt")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != "clips/c1/captions/en.vtt" || info.Size != 4096 || info.ContentType != "text/vtt" || info.ModTime.IsZero() || info.ETag == "" {
		t.Fatalf("Stat = %+v", info)
	}
	// ModTime must be a plausible wall-clock time, not a zero or epoch value.
	if d := time.Since(info.ModTime); d > 24*time.Hour || d < -24*time.Hour {
		t.Fatalf("ModTime %v is not around now", info.ModTime)
	}
}

func testRangeSeek(t *testing.T, s storage.Store) {
	data := payload(10_000, 4)
	put(t, s, "r/data.bin", data, "")
	obj, err := s.Open(context.Background(), "r/data.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	steps := []struct {
		offset int64
		whence int
		n      int
		wantAt int64
	}{
		{100, io.SeekStart, 50, 100},
		{0, io.SeekCurrent, 25, 150}, // continue where the last read stopped
		{-10, io.SeekEnd, 10, 9990},
		{5000, io.SeekStart, 1, 5000},
		{-4000, io.SeekCurrent, 300, 1001},
		{0, io.SeekStart, 10_000, 0},
	}
	for _, st := range steps {
		pos, err := obj.Seek(st.offset, st.whence)
		if err != nil || pos != st.wantAt {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", st.offset, st.whence, pos, err, st.wantAt)
		}
		buf := make([]byte, st.n)
		if _, err := io.ReadFull(obj, buf); err != nil {
			t.Fatalf("read %d at %d: %v", st.n, pos, err)
		}
		if !bytes.Equal(buf, data[pos:pos+int64(st.n)]) {
			t.Fatalf("bytes at %d..%d differ", pos, pos+int64(st.n))
		}
	}
	if n, err := obj.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read at end = %d, %v; want 0, EOF", n, err)
	}
	if size, err := obj.Seek(0, io.SeekEnd); err != nil || size != 10_000 {
		t.Fatalf("Seek to end = %d, %v", size, err)
	}
	if _, err := obj.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to a negative position succeeded")
	}
}

func testServeContent(t *testing.T, s storage.Store) {
	data := payload(20_000, 5)
	put(t, s, "v/seg.ts", data, "video/mp2t")
	obj, err := s.Open(context.Background(), "v/seg.ts")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	req := httptest.NewRequest(http.MethodGet, "/v/seg.ts", nil)
	req.Header.Set("Range", "bytes=1000-1999")
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Type", obj.Info().ContentType)
	http.ServeContent(rec, req, "seg.ts", obj.Info().ModTime, obj)
	if rec.Code != http.StatusPartialContent {
		t.Fatalf("status %d, want 206", rec.Code)
	}
	if !bytes.Equal(rec.Body.Bytes(), data[1000:2000]) {
		t.Fatalf("range body differs (%d bytes)", rec.Body.Len())
	}
	if got := rec.Header().Get("Content-Range"); got != "bytes 1000-1999/20000" {
		t.Fatalf("Content-Range %q", got)
	}
}

func testList(t *testing.T, s storage.Store) {
	all := []string{
		"clips/a/hls/index.m3u8",
		"clips/a/hls/720p/seg_001.ts",
		"clips/a/hls/720p/seg_000.ts",
		"clips/a/poster.jpg",
		"clips/ab/poster.jpg", // shares a string prefix with clips/a, not a folder
		"clips/a-b/poster.jpg",
		"clips/a.txt",
		"other/x.json",
	}
	for i, k := range all {
		put(t, s, k, payload(10+i, uint64(i)), "")
	}
	ctx := context.Background()
	cases := []struct {
		prefix string
		want   []string
	}{
		{"clips/a", []string{"clips/a/hls/720p/seg_000.ts", "clips/a/hls/720p/seg_001.ts", "clips/a/hls/index.m3u8", "clips/a/poster.jpg"}},
		{"clips/a/", []string{"clips/a/hls/720p/seg_000.ts", "clips/a/hls/720p/seg_001.ts", "clips/a/hls/index.m3u8", "clips/a/poster.jpg"}},
		{"clips/a/hls/720p", []string{"clips/a/hls/720p/seg_000.ts", "clips/a/hls/720p/seg_001.ts"}},
		{"clips/a/poster.jpg", nil}, // an object is not a folder
		{"nothing/here", nil},
		{"", slices.Sorted(slices.Values(all))},
	}
	for _, c := range cases {
		got, err := s.List(ctx, c.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", c.prefix, err)
		}
		if !slices.Equal(keys(got), c.want) {
			t.Errorf("List(%q) = %q, want %q", c.prefix, keys(got), c.want)
		}
		for _, in := range got {
			if in.Size <= 0 || in.ModTime.IsZero() || in.ETag == "" {
				t.Errorf("List(%q) entry %+v lacks size, time or ETag", c.prefix, in)
			}
		}
	}
}

func testDelete(t *testing.T, s storage.Store) {
	ctx := context.Background()
	put(t, s, "d/one.txt", []byte("1"), "")
	put(t, s, "d/two.txt", []byte("2"), "")
	if err := s.Delete(ctx, "d/one.txt"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Stat(ctx, "d/one.txt"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	for _, k := range []string{"d/one.txt", "never/was.txt", "d"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatalf("Delete(%q) of a missing object = %v, want nil (idempotent)", k, err)
		}
	}
	if got, _ := get(t, s, "d/two.txt"); string(got) != "2" {
		t.Fatalf("sibling changed by Delete: %q", got)
	}
}

func testDeletePrefix(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, k := range []string{"clips/a/hls/720p/seg_000.ts", "clips/a/hls/index.m3u8", "clips/a/poster.jpg", "clips/ab/poster.jpg", "clips/a.txt"} {
		put(t, s, k, []byte(k), "")
	}
	if err := s.DeletePrefix(ctx, "clips/a"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	got, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"clips/a.txt", "clips/ab/poster.jpg"}; !slices.Equal(keys(got), want) {
		t.Fatalf("after DeletePrefix(clips/a): %q, want %q", keys(got), want)
	}
	if err := s.DeletePrefix(ctx, "clips/a"); err != nil {
		t.Fatalf("DeletePrefix again: %v", err)
	}
	// A new object may go where a deleted folder was.
	put(t, s, "clips/a/poster.jpg", []byte("back"), "")
	if err := s.DeletePrefix(ctx, ""); err != nil {
		t.Fatalf("DeletePrefix(everything): %v", err)
	}
	if got, err := s.List(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("after DeletePrefix(\"\"): %q, %v", keys(got), err)
	}
}

func testNotFound(t *testing.T, s storage.Store) {
	ctx := context.Background()
	put(t, s, "x/present.txt", []byte("here"), "")
	for _, k := range []string{"x/missing.txt", "x", "x/present.txt/below"} {
		if _, err := s.Open(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", k, err)
		}
	}
}

func testBadKeys(t *testing.T, s storage.Store) {
	ctx := context.Background()
	bad := []string{"", "/abs/key", "a/../b", "..", "../escape", "a/./b", "a//b", "a/", `a\b`, ".hidden", "a/.tmp-x", "nul\x00byte", "line\nbreak", "bad\xffutf8", strings.Repeat("k", 1025)}
	for _, k := range bad {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.PresignGet(ctx, k, time.Minute); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("PresignGet(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"/", "../x", "a//", "a/../b", ".x"} {
		if _, err := s.List(ctx, p); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want ErrInvalidKey", p, err)
		}
		if err := s.DeletePrefix(ctx, p); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("DeletePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
	// Unicode and spaces are fine.
	put(t, s, "clips/Klasse 7b – Einführung/poster.jpg", []byte("ok"), "")
	if got, _ := get(t, s, "clips/Klasse 7b – Einführung/poster.jpg"); string(got) != "ok" {
		t.Fatalf("unicode key read back %q", got)
	}
}

func testSizeMismatch(t *testing.T, s storage.Store) {
	ctx := context.Background()
	cases := []struct {
		name     string
		data     []byte
		declared int64
	}{
		{"short", []byte("12345"), 10},
		{"long", []byte("1234567890"), 5},
	}
	for _, c := range cases {
		key := "mismatch/" + c.name
		err := s.Put(ctx, key, bytes.NewReader(c.data), c.declared, "")
		if !errors.Is(err, storage.ErrSizeMismatch) {
			t.Errorf("%s: Put = %v, want ErrSizeMismatch", c.name, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%s: failed Put left an object behind (Stat = %v)", c.name, err)
		}
	}
	if got, err := s.List(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("failed Puts left %q (%v)", keys(got), err)
	}
}

// largeSize spans several S3 multipart parts at the 5 MiB part size the
// S3 tests use, and is not a multiple of it.
const largeSize = 11<<20 + 12345

func testLargeObject(t *testing.T, s storage.Store) {
	data := payload(largeSize, 6)
	want := sha256.Sum256(data)
	for _, size := range []int64{largeSize, -1} {
		key := fmt.Sprintf("big/size%d.mp4", size)
		if err := s.Put(context.Background(), key, onlyReader{bytes.NewReader(data)}, size, "video/mp4"); err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
		got, info := get(t, s, key)
		if sha256.Sum256(got) != want || info.Size != largeSize {
			t.Fatalf("%s: read back %d bytes that differ from the %d written", key, len(got), largeSize)
		}
		if info.ContentType != "video/mp4" {
			t.Fatalf("%s: content type %q", key, info.ContentType)
		}
	}
	// A range deep inside, crossing a part boundary.
	obj, err := s.Open(context.Background(), "big/size-1.mp4")
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	at := int64(5<<20 - 100)
	if _, err := obj.Seek(at, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	if _, err := io.ReadFull(obj, buf); err != nil || !bytes.Equal(buf, data[at:at+200]) {
		t.Fatalf("range across a part boundary: %v", err)
	}
}

func testContentTypes(t *testing.T, s storage.Store) {
	cases := []struct {
		key, given, want string
	}{
		{"ct/index.m3u8", "", "application/vnd.apple.mpegurl"},
		{"ct/seg_001.ts", "", "video/mp2t"},
		{"ct/init.mp4", "", "video/mp4"},
		{"ct/en.vtt", "", "text/vtt; charset=utf-8"},
		{"ct/poster.JPG", "", "image/jpeg"},
		{"ct/waveform.json", "", "application/json"},
		{"ct/no-extension", "", "application/octet-stream"},
		{"ct/unknown.zzzq", "", "application/octet-stream"},
		{"ct/explicit", "image/webp", "image/webp"},
		{"ct/override.ts", "application/x-custom", "application/x-custom"},
	}
	for _, c := range cases {
		put(t, s, c.key, []byte("x"), c.given)
		info, err := s.Stat(context.Background(), c.key)
		if err != nil {
			t.Fatal(err)
		}
		if info.ContentType != c.want {
			t.Errorf("%s (given %q): content type %q, want %q", c.key, c.given, info.ContentType, c.want)
		}
		obj, err := s.Open(context.Background(), c.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := obj.Info().ContentType; got != c.want {
			t.Errorf("%s: Open().Info().ContentType %q, want %q", c.key, got, c.want)
		}
		obj.Close()
	}
}

func testCanceled(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "c/x.bin", bytes.NewReader(payload(1000, 7)), 1000, ""); err == nil {
		t.Fatal("Put with a canceled context succeeded")
	}
	if _, err := s.Stat(context.Background(), "c/x.bin"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("canceled Put left an object (Stat = %v)", err)
	}
}

func testPresign(t *testing.T, s storage.Store) {
	data := payload(30_000, 8)
	put(t, s, "clips/c1/hls/720p/seg 001.ts", data, "video/mp2t")
	url, err := s.PresignGet(context.Background(), "clips/c1/hls/720p/seg 001.ts", 5*time.Minute)
	if errors.Is(err, storage.ErrPresignUnsupported) {
		return // the store streams through Open instead; nothing more to check
	}
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET presigned URL: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET presigned URL: status %d, %d bytes (want 200, %d bytes): %.200s", resp.StatusCode, len(got), len(data), got)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "video/mp2t" {
		t.Fatalf("presigned GET content type %q", ct)
	}
	if _, err := s.PresignGet(context.Background(), "a.ts", 0); err == nil {
		t.Fatal("PresignGet with a zero TTL succeeded")
	}
}

// testPutFile stores a file, then removes and rewrites the source path: the
// object keeps the bytes it was given (the local store's hard link shares
// the inode, not the name).
func testPutFile(t *testing.T, s storage.Store) {
	ctx := context.Background()
	data := payload(300_000, 7)
	src := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	key := "clips/c9/source/original"
	if err := s.PutFile(ctx, key, src, ""); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, []byte("other"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, info := get(t, s, key)
	if !bytes.Equal(got, data) || info.Size != int64(len(data)) || info.ETag == "" {
		t.Fatalf("read back %d bytes (equal: %v), info %+v", len(got), bytes.Equal(got, data), info)
	}
	if info.ContentType != "application/octet-stream" {
		t.Fatalf("content type %q, want the key's", info.ContentType)
	}
	seg := filepath.Join(t.TempDir(), "seg_00001.ts")
	if err := os.WriteFile(seg, data[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.PutFile(ctx, "clips/c9/hls/source/seg_00001.ts", seg, ""); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	if _, info := get(t, s, "clips/c9/hls/source/seg_00001.ts"); info.ContentType != "video/mp2t" {
		t.Fatalf("segment content type %q", info.ContentType)
	}
	for _, tc := range []struct {
		name, key, path string
	}{
		{"missing file", "clips/c9/x", filepath.Join(t.TempDir(), "missing")},
		{"a folder", "clips/c9/y", t.TempDir()},
		{"bad key", "../escape", seg},
	} {
		if err := s.PutFile(ctx, tc.key, tc.path, ""); err == nil {
			t.Errorf("%s: PutFile succeeded", tc.name)
		}
	}
	if _, err := s.Stat(ctx, "clips/c9/x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a failed PutFile left an object: %v", err)
	}
}

// testLocalFile: a store either names a file with the object's bytes or
// says ErrNotLocal.
func testLocalFile(t *testing.T, s storage.Store) {
	ctx := context.Background()
	data := payload(5000, 8)
	put(t, s, "clips/c8/source/original", data, "")
	p, err := s.LocalFile(ctx, "clips/c8/source/original")
	switch {
	case errors.Is(err, storage.ErrNotLocal):
	case err != nil:
		t.Fatalf("LocalFile: %v", err)
	default:
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("LocalFile %s: %d bytes, %v", p, len(b), err)
		}
		if _, err := s.LocalFile(ctx, "clips/c8/missing"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("LocalFile of a missing object: %v", err)
		}
	}
	if _, err := s.LocalFile(ctx, "../x"); err == nil {
		t.Fatal("LocalFile accepted a bad key")
	}
}
