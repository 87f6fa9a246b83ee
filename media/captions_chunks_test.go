package media

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/transcode"
)

// chunkQueue is the part of the River queue the captions job talks to,
// recording what it was asked to queue so that the test decides which
// worker runs which chunk, and when.
type chunkQueue struct {
	mu       sync.Mutex
	captions int
	chunks   []CaptionChunkArgs
}

func (q *chunkQueue) EnqueueProcess(context.Context, string) error { return nil }
func (q *chunkQueue) EnqueueCaptions(context.Context, string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.captions++
	return nil
}
func (q *chunkQueue) EnqueueCaptionsAgain(ctx context.Context, clipID string) error {
	return q.EnqueueCaptions(ctx, clipID)
}
func (q *chunkQueue) EnqueueCaptionChunk(_ context.Context, clipID, run string, index int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.chunks = append(q.chunks, CaptionChunkArgs{ClipID: clipID, Run: run, Index: index})
	return nil
}

// spokenClip writes an MP4 of espeak-ng sentences, each after a pause, and
// returns it with the [start, end) ms of every sentence.
func spokenClip(t *testing.T, dir string, sentences []string, pauseSec float64) (string, [][2]int64) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "espeak-ng", "pocketsphinx_continuous"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (scripts/setup.sh installs it)", tool)
		}
	}
	var inputs []string
	var filter strings.Builder
	var spans [][2]int64
	at := int64(0)
	for i, s := range sentences {
		wav := filepath.Join(dir, fmt.Sprintf("say-%d.wav", i))
		if out, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "150", "-w", wav, s).CombinedOutput(); err != nil {
			t.Fatalf("espeak-ng: %v %s", err, out)
		}
		d, err := transcode.ProbeFile(context.Background(), wav)
		if err != nil {
			t.Fatal(err)
		}
		at += int64(pauseSec * 1000)
		spans = append(spans, [2]int64{at, at + d.Duration.Milliseconds()})
		at += d.Duration.Milliseconds()
		inputs = append(inputs, "-f", "lavfi", "-t", fmt.Sprintf("%.3f", pauseSec), "-i", "anullsrc=r=22050:cl=mono", "-i", wav)
		fmt.Fprintf(&filter, "[%d:a][%d:a]", 2*i+1, 2*i+2)
	}
	fmt.Fprintf(&filter, "concat=n=%d:v=0:a=1[a]", 2*len(sentences))
	out := filepath.Join(dir, "lesson.mp4")
	args := append([]string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=160x120:r=10"}, inputs...)
	args = append(args, "-filter_complex", filter.String(), "-map", "0:v", "-map", "[a]", "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", out)
	if o, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, o)
	}
	return out, spans
}

// TestCaptionsInParts runs a captions run chunk by chunk on both databases
// with the real pocketsphinx (behind a wrapper that counts its runs and can
// be made to fail once): captioning starts before the clip is ready, cues
// appear as parts finish, a failed part is retried alone, a part whose
// worker died is taken again, and the clip becoming ready keeps it all.
func TestCaptionsInParts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src, spans := spokenClip(t, dir, []string{
		"Today we are going to look at fractions.",
		"Who can tell me what the bottom number means?",
		"Now draw a line across the page.",
		"Split the line into four equal parts.",
	}, 1.5)
	real, err := exec.LookPath("pocketsphinx_continuous")
	if err != nil {
		t.Skip("pocketsphinx not installed")
	}
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newCapEnv(t, d.Open(t))
			tmp := t.TempDir()
			calls, failNext := filepath.Join(tmp, "calls"), filepath.Join(tmp, "fail-next")
			wrapper := filepath.Join(tmp, "pocketsphinx_continuous")
			script := fmt.Sprintf("#!/bin/sh\necho run >> %q\nif [ -e %q ]; then rm -f %q; echo 'segfault' >&2; exit 139; fi\nexec %q \"$@\"\n",
				calls, failNext, failNext, real)
			if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			engine, err := captions.New(captions.Config{Engine: captions.EnginePocketsphinx, Pocketsphinx: captions.PocketsphinxConfig{Bin: wrapper},
				Workers: 1, MinSegment: time.Minute, MaxSegment: time.Minute, TempDir: tmp, Logger: quietLog()})
			if err != nil {
				t.Fatal(err)
			}
			runs := func() int {
				b, _ := os.ReadFile(calls)
				return strings.Count(string(b), "run")
			}
			f, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := e.store.Put(ctx, sourceKey(e.clipID), f, -1, ""); err != nil {
				t.Fatal(err)
			}
			// The clip is still being transcoded: captions start from the source.
			if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET status = 'transcoding', caption_status = '', media_json = '' WHERE id = ?`, e.clipID); err != nil {
				t.Fatal(err)
			}
			q := &chunkQueue{}
			p := &Pipeline{Clips: e.clips, Store: e.store, Queue: q, Log: quietLog(), TempDir: t.TempDir()}
			job := &CaptionJob{Pipeline: p, Captions: e.caps, Engine: engine, ChunkTarget: 5 * time.Second}
			p.QueueCaptionsEarly(ctx, e.clipID, true)
			if q.captions != 1 {
				t.Fatalf("captions queued %d times after the probe, want 1", q.captions)
			}
			if err := job.Caption(ctx, e.clipID, 1, 3); err != nil {
				t.Fatal(err)
			}
			state := func() CaptionState {
				t.Helper()
				st, err := e.caps.State(ctx, e.clipID)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
			st := state()
			n := len(q.chunks)
			if n < 3 || st.Status != CaptionRunning || st.Parts != n || st.PartsDone != 0 || len(st.Tracks) != 0 {
				t.Fatalf("after the coordinator: %d chunks queued, state %+v", n, st)
			}
			cuesNow := func() []captions.Cue {
				t.Helper()
				b, err := e.caps.readVTT(ctx, e.clipID, "en", CaptionMachine)
				if err != nil {
					t.Fatal(err)
				}
				tr, err := captions.ParseVTT(strings.NewReader(string(b)), captions.ParseOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return tr.Cues
			}
			chunk := func(i, attempt int) error {
				a := q.chunks[i]
				return job.CaptionChunk(ctx, a.ClipID, a.Run, a.Index, attempt, 3)
			}

			// Part 1 finishes first: its cues are there while the rest waits.
			if err := chunk(0, 1); err != nil {
				t.Fatal(err)
			}
			st = state()
			if st.Status != CaptionRunning || st.PartsDone != 1 || len(st.Tracks) != 1 || st.Tracks[0].Cues == 0 {
				t.Fatalf("after part 1: %+v", st)
			}
			first := cuesNow()
			for _, c := range first {
				if c.StartMS >= spans[1][1] {
					t.Errorf("cue %+v from part 1 lies after the part", c)
				}
			}

			// Part 2 fails once: the queue retries it; nothing else is lost.
			if err := os.WriteFile(failNext, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := chunk(1, 1); err == nil {
				t.Fatal("a crashing engine gave no error, so the queue would not retry the part")
			}
			st = state()
			if st.Status != CaptionRunning || st.PartsDone != 1 || !strings.Contains(st.Reason, fmt.Sprintf("Part 2 of %d failed on try 1 of 3", n)) {
				t.Fatalf("after part 2 failed: %+v", st)
			}
			if got := len(cuesNow()); got != len(first) {
				t.Errorf("a failed part changed the cues: %d, were %d", got, len(first))
			}

			// A worker died holding part 3: its row says running. The
			// rescued job takes it again.
			if _, err := e.db.Writer().Exec(ctx, `UPDATE caption_chunks SET state = 'running', attempts = 1 WHERE clip_id = ? AND idx = 2`, e.clipID); err != nil {
				t.Fatal(err)
			}
			for i := 2; i < n; i++ {
				if err := chunk(i, 2); err != nil {
					t.Fatal(err)
				}
			}
			if st = state(); st.Status != CaptionRunning || st.PartsDone != n-1 {
				t.Fatalf("with only part 2 left: %+v", st)
			}
			before := runs()
			if err := chunk(1, 2); err != nil {
				t.Fatal(err)
			}
			if got := runs() - before; got != 1 {
				t.Errorf("retrying part 2 ran the engine %d times, want once", got)
			}
			if got := runs(); got != n+1 {
				t.Errorf("the engine ran %d times for %d parts and one failure", got, n)
			}
			st = state()
			if st.Status != CaptionReady || st.Parts != 0 || st.Progress != 100 || st.Reason != "" {
				t.Fatalf("when all parts are done: %+v", st)
			}
			final := cuesNow()
			if len(final) <= len(first) {
				t.Errorf("final track has %d cues, the first part alone had %d", len(final), len(first))
			}
			if v := captions.CheckCues(final, captions.DefaultRules()); len(v) > 0 {
				t.Errorf("cue rules: %v", v)
			}
			tr, err := e.caps.transcript(ctx, e.db.Reader(), e.clipID, "en", CaptionMachine)
			if err != nil {
				t.Fatal(err)
			}
			last := int64(-1)
			for _, w := range tr.Words {
				if w.StartMS < last {
					t.Errorf("word %+v before the previous one (%d ms)", w, last)
				}
				last = w.StartMS
				inside := false
				for _, s := range spans {
					inside = inside || (w.StartMS >= s[0]-300 && w.EndMS <= s[1]+300)
				}
				if !inside {
					t.Errorf("word %+v is not where a sentence was spoken %v", w, spans)
				}
			}
			var rows int
			if err := e.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM caption_chunks WHERE clip_id = ?`, e.clipID).Scan(&rows); err != nil || rows != 0 {
				t.Errorf("%d chunk rows left (%v)", rows, err)
			}
			if objs, err := e.store.List(ctx, clipPrefix(e.clipID)+"captions-work/"); err != nil || len(objs) != 0 {
				t.Errorf("chunk audio left: %v %v", objs, err)
			}

			// The source was read where it lies, never removed.
			if _, err := e.store.Stat(ctx, sourceKey(e.clipID)); err != nil {
				t.Errorf("source after captioning: %v", err)
			}

			// A late copy of a part's job changes nothing.
			if err := chunk(0, 3); err != nil {
				t.Fatal(err)
			}
			if got := runs(); got != n+1 {
				t.Errorf("a late job ran the engine again")
			}

			// The clip becomes ready: its captions, their file and state stay,
			// and they are not queued again.
			out := t.TempDir()
			if err := os.WriteFile(filepath.Join(out, "master.m3u8"), []byte("#EXTM3U\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := p.publish(ctx, e.clipID, "", out, &transcode.Result{Master: "master.m3u8", HasAudio: true, HasVideo: true, Duration: 20 * time.Second}, ""); err != nil {
				t.Fatal(err)
			}
			if q.captions != 1 {
				t.Errorf("publish queued captions again (%d)", q.captions)
			}
			st = state()
			if st.Status != CaptionReady || len(st.Tracks) != 1 {
				t.Errorf("after publish: %+v", st)
			}
			if got := len(cuesNow()); got != len(final) {
				t.Errorf("after publish %d cues, want %d", got, len(final))
			}
			c, err := e.clips.get(ctx, e.clipID)
			if err != nil {
				t.Fatal(err)
			}
			var info MediaInfo
			if err := json.Unmarshal(c.Media, &info); err != nil || len(info.Captions) != 1 || info.Master != "master.m3u8" {
				t.Errorf("media JSON after publish: %s (%v)", c.Media, err)
			}
			// A caption job queued anyway (an older server) leaves it alone.
			if err := job.Caption(ctx, e.clipID, 1, 3); err != nil || runs() != n+1 {
				t.Errorf("a second captions job: %v, engine runs %d", err, runs())
			}
		})
	}
}
