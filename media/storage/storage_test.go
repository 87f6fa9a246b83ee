package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media/storage"
	"github.com/filmroom/filmroom/media/storage/storagetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testsvc.StopMinIO()
	os.Exit(code)
}

func TestLocal(t *testing.T) {
	t.Parallel()
	storagetest.Exercise(t, func(t *testing.T) storage.Store {
		s, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestS3(t *testing.T) {
	t.Parallel()
	storagetest.Exercise(t, func(t *testing.T) storage.Store {
		env := testsvc.MinIO(t)
		s, err := storage.NewS3(context.Background(), storage.S3Config{
			Endpoint: env.Endpoint, Region: env.Region, Bucket: env.Bucket,
			AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true,
			PartSize: 5 << 20, // the minimum, so the suite's large object spans three parts
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestS3Prefix runs the suite on a store confined to a prefix, next to
// unrelated objects in the same bucket that it must never list or delete.
func TestS3Prefix(t *testing.T) {
	t.Parallel()
	storagetest.Exercise(t, func(t *testing.T) storage.Store {
		env := testsvc.MinIO(t)
		cfg := storage.S3Config{
			Endpoint: env.Endpoint, Region: env.Region, Bucket: env.Bucket,
			AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true, PartSize: 5 << 20,
		}
		outside, err := storage.NewS3(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := outside.Put(context.Background(), "neighbour/keep.txt", strings.NewReader("keep"), 4, ""); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := outside.Stat(context.Background(), "neighbour/keep.txt"); err != nil {
				t.Errorf("object outside the prefix was touched: %v", err)
			}
		})
		cfg.Prefix = "tenant/filmroom"
		s, err := storage.NewS3(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestNewS3BadBucket(t *testing.T) {
	t.Parallel()
	env := testsvc.MinIO(t)
	_, err := storage.NewS3(context.Background(), storage.S3Config{
		Endpoint: env.Endpoint, Bucket: "no-such-bucket-here", AccessKey: env.AccessKey, SecretKey: env.SecretKey, PathStyle: true,
	})
	if err == nil {
		t.Fatal("NewS3 with a missing bucket succeeded")
	}
}

// TestLocalLayout checks what an operator sees in the media folder: plain
// files at their keys, no temp files left, empty folders pruned.
func TestLocalLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "clips/c1/hls/720p/seg_000.ts", strings.NewReader("segment"), 7, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "clips/c2/poster.jpg", strings.NewReader("jpeg"), -1, ""); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "clips", "c1", "hls", "720p", "seg_000.ts"))
	if err != nil || string(b) != "segment" {
		t.Fatalf("object file: %q, %v", b, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "clips", "c1", "hls", "720p"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Fatalf("temp file %s left behind", e.Name())
		}
	}
	if err := s.DeletePrefix(ctx, "clips/c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clips", "c1")); !os.IsNotExist(err) {
		t.Fatalf("clips/c1 folder still there: %v", err)
	}
	if err := s.Delete(ctx, "clips/c2/poster.jpg"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "clips")); !os.IsNotExist(err) {
		t.Fatalf("empty clips folder not pruned: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("root removed: %v", err)
	}
}

// TestLocalSymlinkEscape shows the os.Root guard: a symlink planted in the
// media folder cannot be used to read or write outside it.
func TestLocalSymlinkEscape(t *testing.T) {
	t.Parallel()
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(context.Background(), "link/secret.txt"); err == nil {
		t.Fatal("read through a symlink leaving the root")
	}
	if err := s.Put(context.Background(), "link/planted.txt", strings.NewReader("x"), 1, ""); err == nil {
		t.Fatal("wrote through a symlink leaving the root")
	}
	if _, err := os.Stat(filepath.Join(outside, "planted.txt")); err == nil {
		t.Fatal("file planted outside the root")
	}
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"a", "clips/01hx/hls/720p/seg_001.ts", "a b/ü.txt", "x..y", "a/b.c/d"} {
		if err := storage.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
}
