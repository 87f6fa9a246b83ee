package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// TestMinIOStoppedMidUploadAndMidTranscode runs a filmroom node on a
// private MinIO and kills MinIO twice: in the middle of a tus upload (the
// PATCH answers 503 with Retry-After and a clear message, and once MinIO is back the client resumes
// from the server's offset and the stored file is the original, byte for
// byte), and in the middle of the clip's transcode (the clip says it waits
// for storage, the job is retried without spending its attempts, and the
// clip ends ready once MinIO is back, with all its media stored).
func TestMinIOStoppedMidUploadAndMidTranscode(t *testing.T) {
	t.Parallel()
	minio := testsvc.StartPrivateMinIO(t)
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: t.TempDir(), Migrate: true,
		Workers: 1, FFmpegThreads: 1, CaptionEngine: "none", JobLease: 3 * time.Second,
		S3Endpoint: minio.Env.Endpoint, S3Region: minio.Env.Region, S3Bucket: minio.Env.Bucket,
		S3AccessKey: minio.Env.AccessKey, S3SecretKey: minio.Env.SecretKey, S3PathStyle: true}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		_ = srv.Close(context.Background())
	})
	e := &env{t: t, srv: srv, ts: ts, db: db}
	p := e.user("teacher@example.org", "Tess", false)
	owner := &browser{t: t, base: ts.URL, session: p.session.Token, csrf: p.session.CSRFToken}

	src := makeClip(t, t.TempDir(), "long.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=40",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=40", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	half := len(data) / 2

	// Mid-upload: the first half is in, then MinIO goes away.
	up := owner.tusCreate(len(data), "long.mp4")
	if status, body := owner.tusPatch(up, 0, data[:half]); status != 204 {
		t.Fatalf("first half: %d %s", status, body)
	}
	minio.Stop()
	status, body, hdr := owner.call("PATCH", up, string(data[half:]), map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Offset": strconv.Itoa(half), "Content-Type": "application/offset+octet-stream"})
	if status != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(body, "storage is unavailable") {
		t.Fatalf("PATCH with the storage down: %d (Retry-After %q) %s; want 503 with Retry-After and a clear message", status, hdr.Get("Retry-After"), body)
	}
	if strings.Contains(body, minio.Env.Bucket) || strings.Contains(body, minio.Env.Endpoint) {
		t.Fatalf("the error shows storage internals: %s", body)
	}
	minio.Start()
	offset := owner.tusOffset(up)
	if offset < half || offset > len(data) {
		t.Fatalf("offset after the storage came back: %d, want %d..%d", offset, half, len(data))
	}
	if offset < len(data) {
		if status, body := owner.tusPatch(up, offset, data[offset:]); status != 204 {
			t.Fatalf("resume at %d: %d %s", offset, status, body)
		}
	}
	clipID := owner.uploadedClip(uploadID(up))
	s3c := minio.Env.Client()
	sourceSHA := func() string {
		obj, err := s3c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(minio.Env.Bucket), Key: aws.String("clips/" + clipID + "/source/original")})
		if err != nil {
			t.Fatalf("read the stored source: %v", err)
		}
		defer obj.Body.Close()
		h := sha256.New()
		if _, err := io.Copy(h, obj.Body); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}

	// Mid-transcode: MinIO goes away while ffmpeg runs, so storing the
	// results fails.
	// The clip plays at once from its own streams (fast start); MinIO
	// goes away while its ladder is encoded.
	waitFor(t, "the clip's ladder to be mid-encode", 3*time.Minute, func() bool {
		c := owner.clip(clipID)
		if c.Status == "failed" || c.Status == "ready" && c.Ladder == nil {
			t.Fatalf("the clip finished before MinIO could be stopped (%s): make it longer", c.Status)
		}
		return c.ladderRunning()
	})
	if got := sourceSHA(); got != hex.EncodeToString(want[:]) {
		t.Fatalf("stored source sha256 %s, want %x", got, want)
	}
	minio.Stop()
	waitFor(t, "the clip to say it waits for storage", 3*time.Minute, func() bool {
		c := owner.clip(clipID)
		if c.Status != "ready" || c.Ladder == nil || c.Ladder.State != media.LadderPending {
			t.Fatalf("with the storage down the clip is %s with ladder %+v (%+v); want still playable, its ladder to come", c.Status, c.Ladder, c.Failure)
		}
		return c.Notice == media.NoticeStorageAway
	})
	// Longer than the job's attempts would last if each wait counted.
	time.Sleep(5 * time.Second)
	minio.Start()
	var c faultClip
	waitFor(t, "the ladder to be done once the storage is back", 5*time.Minute, func() bool {
		c = owner.clip(clipID)
		if c.Status != "ready" || c.Ladder != nil && c.Ladder.State == media.LadderFailed {
			t.Fatalf("the clip's ladder failed: %s %+v %+v", c.Status, c.Ladder, c.Failure)
		}
		return c.Ladder == nil
	})
	if c.Notice != "" || c.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("ready clip: notice %q, sha256 %s; want none and %x", c.Notice, c.SHA256, want)
	}
	if got := sourceSHA(); got != hex.EncodeToString(want[:]) {
		t.Fatalf("stored source sha256 after the transcode %s, want %x", got, want)
	}
	// Every media file the clip names is in the bucket and plays.
	res := owner.must("GET", "/api/v1/clips/"+clipID+"/media/master.m3u8", "", 200)
	for _, line := range strings.Split(res, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if status, body, _ := owner.call("GET", "/api/v1/clips/"+clipID+"/media/"+line, "", nil); status != http.StatusOK {
			t.Fatalf("rendition playlist %s: %d %s", line, status, body)
		}
	}
}
