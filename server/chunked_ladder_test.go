package server

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/storage"
)

// chunkEnv is a server with two job slots (the ladder's coordinator and a
// chunk worker) that cuts ladders into 4 to 8 s chunks, on SQLite and the
// local folder or PostgreSQL and MinIO (where chunk workers read the source
// through presigned URLs).
func chunkEnv(t *testing.T, tc struct {
	name string
	db   testsvc.Database
	s3   bool
}, wrap func(storage.Store) storage.Store) *forgetEnv {
	t.Helper()
	fe := &forgetEnv{dataDir: t.TempDir()}
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: fe.dataDir, Migrate: true, Workers: 2,
		TranscodeTimeout: 5 * time.Minute, FFmpegThreads: 1, CaptionEngine: captions.EngineNone, LadderChunk: 4 * time.Second}
	if tc.s3 {
		m := testsvc.MinIO(t)
		fe.minio = &m
		cfg.S3Endpoint, cfg.S3Region, cfg.S3Bucket, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3PathStyle = m.Endpoint, m.Region, m.Bucket, m.AccessKey, m.SecretKey, true
	}
	db := tc.db.Open(t)
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		srv.media.pipeline.Store = wrap(srv.media.pipeline.Store)
	}
	fe.env = &env{t: t, srv: srv, ts: newTestServer(t, srv), db: db}
	return fe
}

// chunkedClip is 24 s of 640x360 with a keyframe a second: 3 to 6 chunks.
func chunkedClip(t *testing.T) []byte {
	t.Helper()
	src := makeClip(t, t.TempDir(), "chunked.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=24",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=24", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
		"-c:a", "aac", "-movflags", "+faststart", "-shortest")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestChunkedLadder: a clip long enough for several chunks gets its full
// ladder from chunk jobs, stitched, with the parts removed afterwards, on
// both set-ups.
func TestChunkedLadder(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data := chunkedClip(t)
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := chunkEnv(t, tc, nil)
			owner := fe.user("teacher@example.org", "Tess", false)
			tusUpload(t, fe.env, owner, data, "chunked.mp4", 1, false)
			done := waitClip(t, fe.env, owner, "Lesson chunked.mp4")
			if done.Status != media.StatusReady || done.Ladder != nil {
				t.Fatalf("after the ladder: %s %+v %+v", done.Status, done.Ladder, done.Failure)
			}
			if got := renditionNames(t, done); len(got) != 1 || got[0] != "360p" {
				t.Fatalf("ladder renditions %v, want [360p]", got)
			}
			base := "/api/v1/clips/" + done.ID + "/media/"
			pl := mustStatus(t, fe.do(owner, "GET", base+"360p/index.m3u8", ""), 200, "stitched rendition")
			if n := strings.Count(pl.body, "#EXTINF:4.000000,"); n != 6 || strings.Count(pl.body, "#EXTINF") != 6 || strings.Contains(pl.body, "DISCONTINUITY") {
				t.Fatalf("stitched playlist has %d segments of 4 s, want all 6 and no discontinuity:\n%s", n, pl.body)
			}
			for _, f := range []string{"master.m3u8", "poster.jpg", "sprite.jpg", "thumbs.vtt", "waveform.json"} {
				mustStatus(t, fe.do(owner, "GET", base+f, ""), 200, f)
			}
			if _, err := fe.srv.media.store.Stat(context.Background(), "clips/"+done.ID+"/media/download.mp4"); err != nil {
				t.Fatalf("the MP4 of the stitched ladder: %v", err)
			}
			// The parts go right after the switch.
			waitFor(t, "the ladder parts to go after the switch", time.Minute, func() bool {
				left, err := fe.srv.media.store.List(context.Background(), "clips/"+done.ID+"/ladder/")
				return err == nil && len(left) == 0
			})
		})
	}
}

// doneGate holds the first part's done marker until the test releases it,
// and counts the ladder objects being stored.
type doneGate struct {
	storage.Store
	once     sync.Once
	reached  chan struct{}
	release  chan struct{}
	inflight atomic.Int64
}

func (g *doneGate) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if strings.Contains(key, "/ladder/") {
		g.inflight.Add(1)
		defer g.inflight.Add(-1)
	}
	if strings.Contains(key, "/ladder/") && strings.HasSuffix(key, ".done") {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.reached)
			select {
			case <-g.release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return g.Store.Put(ctx, key, r, size, contentType)
}

func (g *doneGate) PutFile(ctx context.Context, key, path, contentType string) error {
	g.inflight.Add(1)
	defer g.inflight.Add(-1)
	return g.Store.PutFile(ctx, key, path, contentType)
}

// TestDeleteMidChunkedLadder: deleting a clip while its chunks are encoded
// leaves no part behind, even one stored after the delete.
func TestDeleteMidChunkedLadder(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data := chunkedClip(t)
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gate := &doneGate{reached: make(chan struct{}), release: make(chan struct{})}
			fe := chunkEnv(t, tc, func(s storage.Store) storage.Store { gate.Store = s; return gate })
			owner := fe.user("teacher@example.org", "Tess", false)
			tusUpload(t, fe.env, owner, data, "chunked.mp4", 1, false)
			clip := waitPlayable(t, fe.env, owner, "Lesson chunked.mp4")
			select {
			case <-gate.reached:
			case <-time.After(3 * time.Minute):
				t.Fatal("no ladder part was finished")
			}
			parts, err := fe.srv.media.store.List(context.Background(), "clips/"+clip.ID+"/ladder/")
			if err != nil || len(parts) == 0 {
				t.Fatalf("no ladder parts stored mid-ladder: %v", err)
			}
			mustStatus(t, fe.do(owner, "DELETE", "/api/v1/clips/"+clip.ID, ""), 204, "delete mid-ladder")
			close(gate.release)
			// Quiet: no encode running, nothing being stored, and nothing
			// of the clip left, including what landed after the delete.
			quiet := func() bool {
				left, err := fe.srv.media.store.List(context.Background(), "clips/"+clip.ID+"/")
				return err == nil && len(left) == 0 && gate.inflight.Load() == 0 &&
					len(processesWith(filepath.Join(fe.dataDir, "tmp"))) == 0
			}
			waitFor(t, "the clip's work to end with its objects gone", 2*time.Minute, quiet)
			if !quiet() {
				left, _ := fe.srv.media.store.List(context.Background(), "clips/"+clip.ID+"/")
				t.Fatalf("%d objects came back after the delete", len(left))
			}
		})
	}
}
