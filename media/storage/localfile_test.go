package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/filmroom/filmroom/media/storage"
)

// TestLocalPutFileLinks: on one file system the object is the caller's file
// (the same inode), which is what spares a copy of a whole lesson.
func TestLocalPutFileLinks(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.NewLocal(filepath.Join(dir, "media"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "upload.bin")
	if err := os.WriteFile(src, []byte("a lesson"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.PutFile(ctx, "clips/c1/source/original", src, ""); err != nil {
		t.Fatal(err)
	}
	p, err := s.LocalFile(ctx, "clips/c1/source/original")
	if err != nil {
		t.Fatal(err)
	}
	a, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(a, b) {
		t.Fatal("the object is a copy, not a link to the file")
	}
	// No temporary names are left beside the object.
	entries, err := os.ReadDir(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "original" && e.Name() != ".original.meta" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
