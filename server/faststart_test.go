package server

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/storage"
)

// ladderGate holds the first rendition object of a full ladder (any key
// under a clip's media folder in a directory other than the quick
// rendition's) until the test releases it, so the test sees the clip in
// its "playable, more qualities coming" state for as long as it needs.
type ladderGate struct {
	storage.Store
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (g *ladderGate) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := g.hold(ctx, key); err != nil {
		return err
	}
	return g.Store.Put(ctx, key, r, size, contentType)
}

func (g *ladderGate) PutFile(ctx context.Context, key, path, contentType string) error {
	if err := g.hold(ctx, key); err != nil {
		return err
	}
	return g.Store.PutFile(ctx, key, path, contentType)
}

func (g *ladderGate) hold(ctx context.Context, key string) error {
	if _, rel, ok := strings.Cut(key, "/media/"); ok && strings.Contains(rel, "/") &&
		!strings.HasPrefix(rel, "source/") && !strings.HasPrefix(rel, "preview/") {
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
	return nil
}

// waitPlayable polls until the clip can be played, returning it as the
// library shows it then.
func waitPlayable(t *testing.T, e *env, p person, title string) media.Clip {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var list struct{ Clips []media.Clip }
		e.do(p, "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
		for _, c := range list.Clips {
			if c.Title == title && (c.Status == media.StatusReady || c.Status == media.StatusFailed) {
				return c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("clip %q never became playable", title)
	return media.Clip{}
}

func renditionNames(t *testing.T, c media.Clip) []string {
	t.Helper()
	var info media.MediaInfo
	if err := jsonUnmarshal(c.Media, &info); err != nil {
		t.Fatalf("media of %s: %v", c.ID, err)
	}
	var names []string
	for _, r := range info.Renditions {
		names = append(names, r.Name)
	}
	return names
}

// TestFastStart: an H.264/AAC upload plays from its own streams before any
// encode, an HEVC one from a small preview, an audio file straight from
// its one rendition; each H.264/HEVC clip's ladder then replaces the quick
// rendition (whose objects go) without the clip ever leaving "ready", on
// both set-ups.
func TestFastStart(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	inputs := []struct {
		file, start string
		first       string // the quick rendition
	}{
		{makeClip(t, dir, "phone.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
			"-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-c:a", "aac", "-shortest"), "copy", "source"},
		{makeClip(t, dir, "iphone.mp4", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
			"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1", "-c:a", "aac", "-shortest"), "preview", "preview"},
		{makeClip(t, dir, "talk.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-c:a", "aac"), "", "audio"},
	}
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, in := range inputs {
				name := in.file[strings.LastIndex(in.file, "/")+1:]
				t.Run(name, func(t *testing.T) {
					data, err := os.ReadFile(in.file)
					if err != nil {
						t.Fatal(err)
					}
					gate := &ladderGate{reached: make(chan struct{}), release: make(chan struct{})}
					fe := newForgetEnv(t, tc.db.Open(t), tc.s3, func(s storage.Store) storage.Store { gate.Store = s; return gate })
					defer func() {
						select {
						case <-gate.release:
						default:
							close(gate.release)
						}
					}()
					if in.start == "" {
						close(gate.release) // no ladder to hold: its one rendition comes first
					}
					owner := fe.user("teacher@example.org", "Tess", false)
					tusUpload(t, fe.env, owner, data, name, 1, false)
					clip := waitPlayable(t, fe.env, owner, "Lesson "+name)
					if clip.Status != media.StatusReady {
						t.Fatalf("clip %s: %+v", clip.Status, clip.Failure)
					}
					if got := renditionNames(t, clip); len(got) != 1 || got[0] != in.first {
						t.Fatalf("plays first from %v, want [%s]", got, in.first)
					}
					if in.start == "" {
						if clip.Ladder != nil {
							t.Fatalf("an audio clip has a ladder to come: %+v", clip.Ladder)
						}
						return
					}
					if clip.Ladder == nil || clip.Ladder.State != media.LadderPending || clip.Ladder.Start != in.start {
						t.Fatalf("ladder %+v, want pending after %s", clip.Ladder, in.start)
					}
					base := "/api/v1/clips/" + clip.ID + "/media/"
					master := mustStatus(t, fe.do(owner, "GET", base+"master.m3u8", ""), 200, "master playlist")
					if !strings.Contains(master.body, in.first+"/index.m3u8") {
						t.Fatalf("master playlist of the quick rendition:\n%s", master.body)
					}
					rendition := mustStatus(t, fe.do(owner, "GET", base+in.first+"/index.m3u8", ""), 200, "rendition playlist")
					if !strings.Contains(rendition.body, "#EXT-X-ENDLIST") {
						t.Fatalf("rendition playlist:\n%s", rendition.body)
					}
					mustStatus(t, fe.do(owner, "GET", base+"poster.jpg", ""), 200, "poster")

					<-gate.reached
					close(gate.release)
					done := waitClip(t, fe.env, owner, "Lesson "+name)
					if done.Status != media.StatusReady || done.Ladder != nil {
						t.Fatalf("after the ladder: %s %+v", done.Status, done.Ladder)
					}
					got := renditionNames(t, done)
					if len(got) != 1 || got[0] != "360p" {
						t.Fatalf("ladder renditions %v, want [360p]", got)
					}
					master = mustStatus(t, fe.do(owner, "GET", base+"master.m3u8", ""), 200, "master playlist")
					if strings.Contains(master.body, in.first+"/") || !strings.Contains(master.body, "360p/index.m3u8") {
						t.Fatalf("master playlist after the ladder:\n%s", master.body)
					}
					objects, err := fe.srv.media.store.List(context.Background(), "clips/"+clip.ID+"/media/"+in.first+"/")
					if err != nil || len(objects) != 0 {
						t.Fatalf("the quick rendition's objects stay: %v %v", objects, err)
					}
					if _, err := fe.srv.media.store.Stat(context.Background(), "clips/"+clip.ID+"/media/download.mp4"); err != nil {
						t.Fatalf("the MP4 the ladder made: %v", err)
					}
				})
			}
		})
	}
}
