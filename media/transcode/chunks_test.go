package transcode

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPlanLadder(t *testing.T) {
	t.Parallel()
	every := func(step, from, to float64) []float64 {
		var ts []float64
		for x := from; x < to; x += step {
			ts = append(ts, x)
		}
		return ts
	}
	cases := []struct {
		name     string
		fps      float64
		dur      time.Duration
		keys     []float64
		co       ChunkOptions
		chunks   int
		gop      int
		seekCost float64 // max seconds a chunk decodes before its first frame
	}{
		{"short clip is one chunk", 30, 90 * time.Second, every(2, 0, 90), ChunkOptions{}, 1, 120, 0},
		{"shorter than two chunks is one chunk", 30, 119 * time.Second, every(2, 0, 119), ChunkOptions{}, 1, 120, 0},
		{"aligned keyframes: shortest chunks", 30, 10 * time.Minute, every(2, 0, 600), ChunkOptions{}, 10, 120, 0},
		{"keyframes between borders: nearest before", 25, 10 * time.Minute, every(10, 5, 600), ChunkOptions{}, 9, 100, 1},
		{"remainder joins the last chunk", 30, 150 * time.Second, every(1, 0, 150), ChunkOptions{}, 2, 120, 0},
		{"one keyframe: still cut, from the start", 30, 5 * time.Minute, []float64{0}, ChunkOptions{}, 5, 120, 300},
		{"NTSC rate", 29.97, 40 * time.Minute, every(1.001, 0, 2400), ChunkOptions{}, 39, 120, 1},
		{"small chunks", 30, 30 * time.Second, every(0.5, 0, 30), ChunkOptions{Min: 4 * time.Second, Max: 8 * time.Second}, 7, 120, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &Probe{HasVideo: true, Width: 1920, Height: 1080, FrameRate: tc.fps, Duration: tc.dur}
			lp, err := PlanLadder(p, &Keyframes{Times: tc.keys}, Options{}, tc.co)
			if err != nil {
				t.Fatal(err)
			}
			if len(lp.Chunks) != tc.chunks || lp.GOP != tc.gop {
				t.Fatalf("got %d chunks of GOP %d, want %d of %d: %+v", len(lp.Chunks), lp.GOP, tc.chunks, tc.gop, lp.Chunks)
			}
			co := tc.co.withDefaults()
			minF := int(math.Round(co.Min.Seconds() * lp.FPSValue))
			for i, c := range lp.Chunks {
				if c.Index != i || c.StartFrame%lp.GOP != 0 {
					t.Errorf("chunk %d: index %d, start %d not on the GOP grid", i, c.Index, c.StartFrame)
				}
				last := i == len(lp.Chunks)-1
				if last != (c.EndFrame == 0) {
					t.Errorf("chunk %d: end %d, last %v", i, c.EndFrame, last)
				}
				if !last {
					if next := lp.Chunks[i+1]; next.StartFrame != c.EndFrame {
						t.Errorf("chunk %d ends at %d, next starts at %d", i, c.EndFrame, next.StartFrame)
					}
					if n := c.EndFrame - c.StartFrame; n < minF-lp.GOP || n > int(co.Max.Seconds()*lp.FPSValue)+lp.GOP {
						t.Errorf("chunk %d: %d frames, outside %v..%v", i, n, co.Min, co.Max)
					}
				} else if len(lp.Chunks) > 1 && lp.Frames-c.StartFrame < minF-lp.GOP {
					t.Errorf("last chunk: %d frames, shorter than %v", lp.Frames-c.StartFrame, co.Min)
				}
				start := float64(c.StartFrame) / lp.FPSValue
				if c.Seek > start+1e-9 || start-c.Seek > tc.seekCost+0.01 {
					t.Errorf("chunk %d at %.3fs seeks to %.3fs", i, start, c.Seek)
				}
			}
		})
	}
}

func TestPlanLadderRefusesAudioOnly(t *testing.T) {
	t.Parallel()
	_, err := PlanLadder(&Probe{HasAudio: true, Duration: time.Hour}, &Keyframes{Times: []float64{0}}, Options{}, ChunkOptions{})
	if err == nil {
		t.Fatal("planned chunks for an audio-only source")
	}
}

// chunkTestOptions keep the encodes of the chunk tests small and quick.
var chunkTestOptions = Options{Preset: "ultrafast", Threads: 2}

// chunkPlan plans chunky.mp4 in 4 to 8 s chunks.
func chunkPlan(t *testing.T, path string) (*Probe, LadderPlan) {
	t.Helper()
	ctx := context.Background()
	p, err := ProbeFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := SourceKeyframes(ctx, path, p)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := PlanLadder(p, kf, chunkTestOptions, ChunkOptions{Min: 4 * time.Second, Max: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p, lp
}

// chunkedLadder encodes every chunk and the audio of src and stitches them.
func chunkedLadder(t *testing.T, src string, p *Probe, lp LadderPlan) (string, *Result) {
	t.Helper()
	ctx := context.Background()
	work := t.TempDir()
	dirs := make([]string, len(lp.Chunks))
	for i := range lp.Chunks {
		dirs[i] = filepath.Join(work, "chunk"+strconv.Itoa(i))
		if err := EncodeChunk(ctx, src, dirs[i], p, lp, i, chunkTestOptions); err != nil {
			t.Fatal(err)
		}
	}
	audio := filepath.Join(work, "audio")
	if err := EncodeAudio(ctx, src, audio, p, chunkTestOptions); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	res, err := Stitch(ctx, dirs, audio, out, p, lp, chunkTestOptions)
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

func TestChunkedLadderIsSeamless(t *testing.T) {
	t.Parallel()
	src := fixturePath(t, "chunky.mp4")
	p, lp := chunkPlan(t, src)
	if len(lp.Chunks) < 3 {
		t.Fatalf("want at least 3 chunks to test borders, got %+v", lp.Chunks)
	}
	out, res := chunkedLadder(t, src, p, lp)
	single := filepath.Join(t.TempDir(), "single")
	if _, err := Transcode(context.Background(), src, single, p, chunkTestOptions, nil); err != nil {
		t.Fatal(err)
	}
	if len(res.Renditions) != 2 || res.MP4 == "" || res.Poster == "" || res.Sprite == "" || res.Waveform == "" {
		t.Fatalf("incomplete result: %+v", res)
	}
	for _, f := range []string{res.Master, res.MP4, res.Poster, res.Sprite, res.SpriteVTT, res.Waveform} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	var borders []float64
	for _, c := range lp.Chunks[1:] {
		borders = append(borders, float64(c.StartFrame)/lp.FPSValue)
	}
	const frames = 900 // 30 s at 30 fps
	frame := 1 / lp.FPSValue
	for _, r := range res.Renditions {
		t.Run(r.Name, func(t *testing.T) {
			playlist := filepath.Join(out, r.Playlist)
			// Continuous video timestamps, one frame apart, every frame of
			// the source exactly once.
			vpts := packetTimes(t, playlist, "v:0")
			if len(vpts) != frames {
				t.Errorf("stitched %d frames, source has %d", len(vpts), frames)
			}
			for i := 1; i < len(vpts); i++ {
				if d := vpts[i] - vpts[i-1]; math.Abs(d-frame) > 0.0015 {
					t.Errorf("video gap of %.4fs at %.3fs", d, vpts[i-1]-vpts[0])
				}
			}
			apts := packetTimes(t, playlist, "a:0")
			for i := 1; i < len(apts); i++ {
				if d := apts[i] - apts[i-1]; math.Abs(d-1024.0/48000) > 0.0005 {
					t.Errorf("audio gap of %.4fs at %.3fs", d, apts[i-1]-apts[0])
				}
			}
			// Segments are cut on the single encode's GOP grid.
			mp, err := ParseMediaPlaylist(playlist)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range mp.Segments[:len(mp.Segments)-1] {
				if math.Abs(s.Duration.Seconds()-4) > 0.001 {
					t.Errorf("segment %d lasts %v, want 4s", i, s.Duration)
				}
			}
			// Every flash is on screen while its beep sounds, within a
			// frame, at every chunk border and between them.
			flashes, beeps := syncMarks(t, playlist)
			if len(flashes) != 14 || len(beeps) != 14 {
				t.Fatalf("found %d flashes and %d beeps, want 14 of each: %v %v", len(flashes), len(beeps), flashes, beeps)
			}
			for i := range flashes {
				if off := flashes[i] - beeps[i]; math.Abs(off) > frame {
					t.Errorf("flash at %.3fs, beep at %.3fs: A/V offset %.1f ms", flashes[i], beeps[i], off*1000)
				}
			}
			for _, b := range borders {
				if !nearAny(flashes, b, 0.05) {
					t.Errorf("no sync mark next to the chunk border at %.1fs", b)
				}
			}
			// The same frames as the single encode: frame by frame, a
			// stitched frame looks like the single encode's frame of the
			// same number (two encodes of one frame score above 31 dB
			// here, a frame against its neighbour below 27).
			minPSNR := framePSNR(t, playlist, filepath.Join(single, r.Playlist))
			t.Logf("lowest frame PSNR against the single encode: %.1f dB", minPSNR)
			if minPSNR < 29 {
				t.Errorf("a stitched frame differs from the single encode's: min PSNR %.1f dB", minPSNR)
			}
		})
	}
}

func TestEncodeChunkRefusesShortSource(t *testing.T) {
	t.Parallel()
	p, lp := chunkPlan(t, fixturePath(t, "chunky.mp4"))
	cut := fixturePath(t, "chunky_cut.mp4")
	for i, c := range lp.Chunks {
		end := float64(c.EndFrame) / lp.FPSValue
		if c.EndFrame == 0 || end > 10 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				err := EncodeChunk(context.Background(), cut, t.TempDir(), p, lp, i, chunkTestOptions)
				if err == nil || !strings.Contains(err.Error(), "source ended early") {
					t.Fatalf("chunk %d (%+v) of a 10 s cut: want 'source ended early', got %v", i, c, err)
				}
			})
		}
	}
	if err := EncodeChunk(context.Background(), cut, t.TempDir(), p, lp, len(lp.Chunks), chunkTestOptions); err == nil {
		t.Fatal("encoded a chunk the plan does not have")
	}
}

func nearAny(ts []float64, v, tol float64) bool {
	for _, t := range ts {
		if math.Abs(t-v) <= tol {
			return true
		}
	}
	return false
}

// packetTimes are the sorted presentation times of one stream's packets.
func packetTimes(t *testing.T, playlist, stream string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", stream,
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", playlist).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", playlist, err)
	}
	var ts []float64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			t.Fatalf("packet time %q: %v", l, err)
		}
		ts = append(ts, v)
	}
	sort.Float64s(ts)
	return ts
}

// syncMarks decodes a rendition and returns when each flash starts (first
// bright frame) and each beep starts (end of silence), on the one clock
// ffmpeg gives both streams of the input.
func syncMarks(t *testing.T, playlist string) (flashes, beeps []float64) {
	t.Helper()
	dir := t.TempDir()
	vf, af := filepath.Join(dir, "v.txt"), filepath.Join(dir, "a.txt")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", playlist,
		"-vf", "signalstats,metadata=print:key=lavfi.signalstats.YAVG:file="+vf,
		"-af", "silencedetect=n=-40dB:d=0.3,ametadata=print:key=lavfi.silence_end:file="+af,
		"-f", "null", "-")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("decode %s: %v: %s", playlist, err, out)
	}
	bright := false
	readMeta(t, vf, func(pts float64, v float64) {
		if v > 200 && !bright {
			flashes = append(flashes, pts)
		}
		bright = v > 200
	})
	readMeta(t, af, func(pts float64, v float64) { beeps = append(beeps, v) })
	return flashes, beeps
}

// readMeta reads ffmpeg's metadata=print output: a "frame:N pts:P
// pts_time:T" line, then "key=value" lines.
func readMeta(t *testing.T, path string, fn func(pts, value float64)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var pts float64
	for sc.Scan() {
		line := sc.Text()
		if _, v, ok := strings.Cut(line, "pts_time:"); ok {
			pts, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
			continue
		}
		if _, v, ok := strings.Cut(line, "="); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err == nil {
				fn(pts, x)
			}
		}
	}
}

// framePSNR compares two renditions frame by frame and returns the lowest
// per-frame PSNR (luma+chroma average).
func framePSNR(t *testing.T, a, b string) float64 {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "psnr.txt")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", a, "-i", b,
		"-lavfi", "[0:v][1:v]psnr=stats_file="+stats, "-f", "null", "-")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psnr: %v: %s", err, out)
	}
	raw, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	lo, n := math.Inf(1), 0
	for _, line := range strings.Split(string(raw), "\n") {
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "psnr_avg:"); ok {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					x = math.Inf(1) // "inf": identical frames
				}
				lo = min(lo, x)
				n++
			}
		}
	}
	if n != 900 {
		t.Errorf("compared %d frames, want 900", n)
	}
	return lo
}

// countingFile serves a file over HTTP with range support and counts the
// bytes it sends.
type countingFile struct {
	path string
	sent atomic.Int64
}

func (c *countingFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f, err := os.Open(c.path)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	http.ServeContent(countingWriter{w, &c.sent}, r, "source.mp4", st.ModTime(), f)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

// TestEncodeChunkReadsOnlyItsRange: a chunk worker given a URL of the
// source (a presigned object URL on S3) fetches only the byte ranges its
// chunk needs, not the whole file, and still gets every frame of it.
func TestEncodeChunkReadsOnlyItsRange(t *testing.T) {
	t.Parallel()
	src := fixturePath(t, "chunky.mp4")
	p, lp := chunkPlan(t, src)
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, len(lp.Chunks) / 2, len(lp.Chunks) - 1} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			cf := &countingFile{path: src}
			srv := httptest.NewServer(cf)
			defer srv.Close()
			out := t.TempDir()
			if err := EncodeChunk(context.Background(), srv.URL+"/source.mp4", out, p, lp, i, chunkTestOptions); err != nil {
				t.Fatal(err)
			}
			// The chunk's own share of the file, the index, and a keyframe
			// interval of lead-in: well under a third of this 30 s file.
			if sent := cf.sent.Load(); sent > st.Size()/3 {
				t.Errorf("chunk %d of %d read %d of %d bytes", i, len(lp.Chunks), sent, st.Size())
			} else {
				t.Logf("chunk %d of %d read %d of %d bytes", i, len(lp.Chunks), sent, st.Size())
			}
		})
	}
}

func TestProbeSurvivesJSON(t *testing.T) {
	t.Parallel()
	p, err := ProbeFile(context.Background(), fixturePath(t, "chunky.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Probe
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*p, back) {
		t.Fatalf("probe changed through JSON:\n%+v\n%+v", *p, back)
	}
}
