package annotations

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestViewCacheStaysWithinItsBound(t *testing.T) {
	t.Parallel()
	c := newViewCache(1000)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		c.put(k, i, 240)
	}
	if c.size > 1000 {
		t.Fatalf("size %d over the bound", c.size)
	}
	if _, ok := c.get("a"); ok {
		t.Fatal("the least recently used entry survived")
	}
	c.get("b") // b is now the most recently used
	c.put("f", 5, 240)
	if _, ok := c.get("b"); !ok {
		t.Fatal("a recently used entry was evicted")
	}
	if _, ok := c.get("c"); ok {
		t.Fatal("c should have been evicted before b")
	}
	c.put("huge", 5, 600)
	if _, ok := c.get("huge"); ok {
		t.Fatal("an entry over a quarter of the bound was cached")
	}
}

// A clip's views of an older seq can never be read again; under steady
// writes they filled the whole bound (the soak's heap check found it).
func TestViewCacheDropsSupersededSeqs(t *testing.T) {
	t.Parallel()
	key := func(kind, clip string, seq int, rest string) string {
		return kind + "\x00" + clip + "\x00" + strconv.Itoa(seq) + "\x00" + rest
	}
	tests := []struct {
		name    string
		puts    []string
		present []string
		absent  []string
	}{
		{"a newer seq drops the clip's older views",
			[]string{key("list", "c1", 1, "q1"), key("summary", "c1", 1, "s"), key("list", "c1", 2, "q1")},
			[]string{key("list", "c1", 2, "q1")},
			[]string{key("list", "c1", 1, "q1"), key("summary", "c1", 1, "s")}},
		{"other clips keep theirs",
			[]string{key("list", "c1", 1, "q"), key("list", "c2", 1, "q"), key("list", "c1", 5, "q")},
			[]string{key("list", "c2", 1, "q"), key("list", "c1", 5, "q")},
			[]string{key("list", "c1", 1, "q")}},
		{"views of one seq live side by side",
			[]string{key("list", "c1", 3, "a"), key("list", "c1", 3, "b"), key("summary", "c1", 3, "s")},
			[]string{key("list", "c1", 3, "a"), key("list", "c1", 3, "b"), key("summary", "c1", 3, "s")},
			nil},
		{"a late computation of an older seq is not cached",
			[]string{key("list", "c1", 4, "q"), key("list", "c1", 3, "q")},
			[]string{key("list", "c1", 4, "q")},
			[]string{key("list", "c1", 3, "q")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newViewCache(1 << 20)
			for _, k := range tt.puts {
				c.put(k, k, 100)
			}
			for _, k := range tt.present {
				if _, ok := c.get(k); !ok {
					t.Errorf("%q missing", k)
				}
			}
			for _, k := range tt.absent {
				if _, ok := c.get(k); ok {
					t.Errorf("%q still cached", k)
				}
			}
			if want := int64(100 * len(tt.present)); c.size != want || len(c.items) != len(tt.present) {
				t.Errorf("size %d with %d entries, want %d with %d", c.size, len(c.items), want, len(tt.present))
			}
		})
	}
}

func TestViewCacheDoesNotKeepErrors(t *testing.T) {
	t.Parallel()
	c := newViewCache(1 << 20)
	ctx := context.Background()
	calls := 0
	fail := errors.New("database gone")
	compute := func(context.Context) (any, int64, error) {
		calls++
		if calls == 1 {
			return nil, 0, fail
		}
		return "ok", 10, nil
	}
	if _, err := c.load(ctx, "k", compute); !errors.Is(err, fail) {
		t.Fatalf("first load = %v", err)
	}
	for range 2 {
		if v, err := c.load(ctx, "k", compute); err != nil || v != "ok" {
			t.Fatalf("load = %v, %v", v, err)
		}
	}
	if calls != 2 {
		t.Fatalf("computed %d times, want 2 (the error is retried, the value kept)", calls)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   bool
	}{
		{nil, false},
		{[]string{""}, false},
		{[]string{"gzip"}, true},
		{[]string{"gzip, deflate, br, zstd"}, true}, // Chromium
		{[]string{"br;q=1.0, gzip;q=0.8, *;q=0.1"}, true},
		{[]string{"GZIP"}, true},
		{[]string{"x-gzip"}, true},
		{[]string{"identity"}, false},
		{[]string{"gzip;q=0"}, false},
		{[]string{"gzip; q=0.000, *"}, false}, // gzip named and refused: * does not bring it back
		{[]string{"*"}, true},
		{[]string{"*;q=0"}, false},
		{[]string{"deflate", "gzip"}, true}, // several header lines
		{[]string{"gzip;q=abc"}, false},
	} {
		if got := acceptsGzip(tc.header); got != tc.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestServesCompressed(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/api/v1/clips/06abc/annotations", true},
		{"GET", "/api/v1/clips/06abc/summary", true},
		{"POST", "/api/v1/clips/06abc/annotations", false},
		{"GET", "/api/v1/clips/06abc/annotations/export", false},
		{"GET", "/api/v1/clips/06abc/annotations/06def", false},
		{"GET", "/api/v1/clips//annotations", false},
		{"GET", "/api/v1/clips/06abc", false},
	} {
		if got := ServesCompressed(tc.method, tc.path); got != tc.want {
			t.Errorf("ServesCompressed(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestViewGzippedOnce(t *testing.T) {
	v := newView([]byte(strings.Repeat(`{"body":"Waited five seconds"},`, 100)), `W/"1-x"`)
	first := v.Gzipped()
	copied := v // the cache hands out copies; they share the compressed body
	if &copied.Gzipped()[0] != &first[0] {
		t.Fatal("a copy of the view compressed its body again")
	}
	zr, err := gzip.NewReader(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(body, v.Body) {
		t.Fatalf("gunzipped view differs: %v", err)
	}
}
