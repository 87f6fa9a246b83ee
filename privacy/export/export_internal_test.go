package export

import (
	"testing"

	"github.com/filmroom/filmroom/media"
)

// TestClipFolder: a clip's folder is its ID and a short ASCII slug of its
// title, never a path that leaves clips/ or an empty name.
func TestClipFolder(t *testing.T) {
	for _, tc := range []struct{ title, want string }{
		{"Forces, take two", "clips/c1-forces-take-two/"},
		{"../../etc/passwd", "clips/c1-etc-passwd/"},
		{"Élève — 7B", "clips/c1-l-ve-7b/"},
		{"", "clips/c1-clip/"},
		{"???", "clips/c1-clip/"},
		{"a very long lesson title that goes on and on for much longer than forty", "clips/c1-a-very-long-lesson-title-that-goes-on-an/"},
	} {
		if got := clipFolder(media.Clip{ID: "c1", Title: tc.title}); got != tc.want {
			t.Errorf("clipFolder(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}
