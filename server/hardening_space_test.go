package server

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// TestFreeSpaceChecks: an upload or a transcode that the disk cannot hold
// is refused before it starts (507 for the upload, a clear note on the clip
// for the transcode), measured through a swappable free-space function.
func TestFreeSpaceChecks(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, testsvc.Databases(Migrations()...)[0].Open(t), func(c *Config) { c.MinFreeSpace = 1 << 20 })
	var free atomic.Int64
	var asked atomic.Value
	e.srv.media.pipeline.Space.Free = func(path string) (int64, error) {
		asked.Store(path)
		return free.Load(), nil
	}
	owner := e.user("owner@example.org", "Owner", false)
	create := func(length string) response {
		return e.doWith(owner, "POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": length,
			"Upload-Metadata": "filename bGVzc29uLm1wNA==,filetype dmlkZW8vbXA0"})
	}
	// 100 MB arrive and are copied into the local store: 200 MB plus the margin.
	free.Store(200e6 + 1<<20 - 1)
	res := create("100000000")
	if res.status != 507 || !strings.Contains(res.body, "not have enough free disk space for this upload") {
		t.Errorf("upload on a full disk: %d %s", res.status, res.body)
	}
	if p, _ := asked.Load().(string); !strings.HasSuffix(p, "uploads") {
		t.Errorf("free space asked of %q, want the uploads folder", p)
	}
	free.Store(200e6 + 1<<20)
	if res := create("100000000"); res.status != 201 {
		t.Errorf("upload with room: %d %s", res.status, res.body)
	}

	// A transcode of a 100 MB source needs about three times that here.
	clip := e.clip(owner, "Lesson", "")
	ctx := context.Background()
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET status = 'probing', size_bytes = 100000000 WHERE id = ?`, clip.ID); err != nil {
		t.Fatal(err)
	}
	free.Store(250e6)
	err := e.srv.media.pipeline.Process(ctx, clip.ID)
	if !errors.Is(err, apperr.ErrInsufficientStorage) {
		t.Fatalf("transcode on a full disk: %v", err)
	}
	got, err := e.srv.Clips.Authorize(ctx, owner.user.Actor("session"), "view", clip.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != media.StatusProbing || got.Failure == nil || got.Failure.Code != "waiting_for_space" || !strings.Contains(got.Failure.Reason, "Waiting for disk space") {
		t.Errorf("clip while waiting for space: %s %+v", got.Status, got.Failure)
	}
	if p, _ := asked.Load().(string); !strings.HasSuffix(p, "tmp") {
		t.Errorf("free space asked of %q, want the temporary folder", p)
	}
	// With room the check passes (and the job goes on to fetch the source,
	// which this clip does not have).
	free.Store(300e6 + 1<<20)
	if err := e.srv.media.pipeline.Process(ctx, clip.ID); errors.Is(err, apperr.ErrInsufficientStorage) {
		t.Errorf("transcode with room: %v", err)
	}
}

// TestSpaceRequire: the check itself, on the real disk and a simulated one.
func TestSpaceRequire(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if n, err := media.StatfsFree(dir); err != nil || n <= 0 {
		t.Fatalf("statfs of %s: %d %v", dir, n, err)
	}
	if err := (&media.Space{}).Require(dir, 1, "a byte"); err != nil {
		t.Errorf("one byte on the real disk: %v", err)
	}
	full := &media.Space{Free: func(string) (int64, error) { return 5e9, nil }, Margin: 1e9}
	if err := full.Require(dir, 4e9, "it"); err != nil {
		t.Errorf("exactly enough: %v", err)
	}
	err := full.Require(dir, 4e9+1, "this upload")
	var ae *apperr.Error
	if !errors.As(err, &ae) || !errors.Is(err, apperr.ErrInsufficientStorage) || ae.Message != "the server does not have enough free disk space for this upload (it needs 5.0 GB, 5.0 GB are free); try again later, and tell the site's operator" {
		t.Errorf("one byte short: %v", err)
	}
}
