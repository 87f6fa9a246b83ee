package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

func TestProbeAndValidateRejections(t *testing.T) {
	t.Parallel()
	small := DefaultLimits()
	small.MaxDuration = time.Second
	cases := []struct {
		fixture string
		limits  Limits
		code    string // "" means accepted
	}{
		{"empty.mp4", DefaultLimits(), CodeEmpty},
		{"text.mp4", DefaultLimits(), CodeNotMedia},
		{"playlist.mp4", DefaultLimits(), CodeNotMedia},
		{"half_faststart.mp4", DefaultLimits(), CodeTruncated},
		{"half_moov_at_end.mp4", DefaultLimits(), CodeTruncated},
		{"tiny1x1.mkv", DefaultLimits(), CodeTooSmall},
		{"huge.mkv", DefaultLimits(), CodeTooLarge},
		{"five_hours.mp4", DefaultLimits(), CodeTooLong},
		{"faststart.mp4", small, CodeTooLong},
		{"moov_at_end.mp4", DefaultLimits(), ""},
		{"faststart.mp4", DefaultLimits(), ""},
		{"audio.mp3", DefaultLimits(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.fixture+"/"+tc.code, func(t *testing.T) {
			t.Parallel()
			path := fixturePath(t, tc.fixture)
			p, err := ProbeFile(context.Background(), path)
			if err == nil {
				err = Validate(p, tc.limits)
			}
			if tc.code == "" {
				if err != nil {
					t.Fatalf("want accepted, got %v", err)
				}
				return
			}
			rej, ok := AsRejection(err)
			if !ok {
				t.Fatalf("want rejection %q, got %v", tc.code, err)
			}
			if rej.Code != tc.code {
				t.Fatalf("want code %q, got %q (%s)", tc.code, rej.Code, rej.Reason)
			}
			if len(rej.Reason) < 40 || !strings.HasSuffix(rej.Reason, ".") {
				t.Errorf("reason should be a plain sentence saying what to do, got %q", rej.Reason)
			}
		})
	}
}

func TestProbeFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture       string
		w, h          int
		rotation      int
		video, audio  bool
		vcodec        string
		vfr           bool
		durationMilli int
	}{
		{"landscape720.mp4", 1280, 720, 0, true, true, "h264", false, 3000},
		{"portrait.mp4", 360, 640, 270, true, true, "h264", false, 3000},
		{"vfr.mp4", 320, 240, 0, true, true, "h264", true, 3000},
		{"hevc.mp4", 320, 240, 0, true, true, "hevc", false, 3000},
		{"vp9.webm", 320, 240, 0, true, true, "vp9", false, 3000},
		{"prores.mov", 320, 240, 0, true, true, "prores", false, 3000},
		{"noaudio.mp4", 320, 240, 0, true, false, "h264", false, 3000},
		{"audio.wav", 0, 0, 0, false, true, "", false, 3000},
		{"cover.mp3", 0, 0, 0, false, true, "", false, 3030},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			p, err := ProbeFile(context.Background(), fixturePath(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if p.Width != tc.w || p.Height != tc.h || p.Rotation != tc.rotation {
				t.Errorf("size %dx%d rot %d, want %dx%d rot %d", p.Width, p.Height, p.Rotation, tc.w, tc.h, tc.rotation)
			}
			if p.HasVideo != tc.video || p.HasAudio != tc.audio || p.VideoCodec != tc.vcodec {
				t.Errorf("video %v audio %v codec %q, want %v %v %q", p.HasVideo, p.HasAudio, p.VideoCodec, tc.video, tc.audio, tc.vcodec)
			}
			if p.VariableFrameRate != tc.vfr {
				t.Errorf("variable frame rate %v, want %v (fps %.2f)", p.VariableFrameRate, tc.vfr, p.FrameRate)
			}
			if d := math.Abs(float64(p.Duration.Milliseconds() - int64(tc.durationMilli))); d > 100 {
				t.Errorf("duration %v, want %dms", p.Duration, tc.durationMilli)
			}
			if p.Size <= 0 || p.Streams == 0 || p.FormatName == "" {
				t.Errorf("missing size/streams/format: %+v", p)
			}
		})
	}
}

func TestTranscode(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture string
		rungs   []string // rendition names, lowest first
		w, h    int      // top rendition size
	}{
		{"landscape720.mp4", []string{"360p", "540p", "720p"}, 1280, 720},
		{"portrait.mp4", []string{"360p"}, 360, 640},
		{"vfr.mp4", []string{"240p"}, 320, 240},
		{"hevc.mp4", []string{"240p"}, 320, 240},
		{"vp9.webm", []string{"240p"}, 320, 240},
		{"prores.mov", []string{"240p"}, 320, 240},
		{"noaudio.mp4", []string{"240p"}, 320, 240},
		{"moov_at_end.mp4", []string{"240p"}, 320, 240},
		{"audio.m4a", []string{"audio"}, 0, 0},
		{"audio.mp3", []string{"audio"}, 0, 0},
		{"audio.wav", []string{"audio"}, 0, 0},
		{"cover.mp3", []string{"audio"}, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			in := fixturePath(t, tc.fixture)
			ctx := context.Background()
			p, err := ProbeFile(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(p, DefaultLimits()); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			var mu sync.Mutex
			var progress []float64
			res, err := Transcode(ctx, in, out, p, Options{Threads: 1}, func(pct float64) {
				mu.Lock()
				progress = append(progress, pct)
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			checkProgress(t, progress)
			checkResult(t, out, p, res, tc.rungs, tc.w, tc.h)
		})
	}
}

func checkProgress(t *testing.T, progress []float64) {
	t.Helper()
	if len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Fatalf("progress must end at 100: %v", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] <= progress[i-1] {
			t.Fatalf("progress not increasing: %v", progress)
		}
	}
}

func checkResult(t *testing.T, out string, p *Probe, res *Result, rungs []string, w, h int) {
	t.Helper()
	src := p.Duration.Seconds()
	near := func(what string, got float64) {
		t.Helper()
		if math.Abs(got-src) > 0.1 {
			t.Errorf("%s lasts %.3fs, source %.3fs", what, got, src)
		}
	}
	if len(res.Renditions) != len(rungs) {
		t.Fatalf("renditions %+v, want %v", res.Renditions, rungs)
	}
	near("result", res.Duration.Seconds())

	master, err := os.ReadFile(filepath.Join(out, res.Master))
	if err != nil {
		t.Fatal(err)
	}
	variants := strings.Count(string(master), "#EXT-X-STREAM-INF:")
	if variants != len(rungs) {
		t.Errorf("master has %d variants, want %d:\n%s", variants, len(rungs), master)
	}
	for _, attr := range []string{":BANDWIDTH=", ",AVERAGE-BANDWIDTH=", ",CODECS=\""} {
		if strings.Count(string(master), attr) != len(rungs) {
			t.Errorf("master lacks %s on every variant:\n%s", attr, master)
		}
	}
	if p.HasVideo && strings.Count(string(master), "RESOLUTION=") != len(rungs) {
		t.Errorf("master lacks RESOLUTION:\n%s", master)
	}

	var segDurations [][]time.Duration
	for i, r := range res.Renditions {
		if r.Name != rungs[i] {
			t.Errorf("rendition %d is %s, want %s", i, r.Name, rungs[i])
		}
		if r.Width%2 != 0 || r.Height%2 != 0 {
			t.Errorf("rendition %s has odd size %dx%d", r.Name, r.Width, r.Height)
		}
		if !strings.Contains(string(master), r.Playlist) {
			t.Errorf("master does not list %s", r.Playlist)
		}
		mp, err := ParseMediaPlaylist(filepath.Join(out, r.Playlist))
		if err != nil {
			t.Fatal(err)
		}
		if mp.TargetDuration < 2 || mp.TargetDuration > 6 {
			t.Errorf("%s: target duration %d outside 2..6", r.Name, mp.TargetDuration)
		}
		if want := int(math.Ceil(src / 4)); len(mp.Segments) < want || len(mp.Segments) > want+1 || !mp.Ended {
			t.Errorf("%s: %d segments (ended %v), want %d", r.Name, len(mp.Segments), mp.Ended, want)
		}
		near(r.Name+" playlist", mp.Duration().Seconds())
		near(r.Name+" via ffprobe", probeDuration(t, filepath.Join(out, r.Playlist), "hls"))
		var ds []time.Duration
		for _, s := range mp.Segments {
			ds = append(ds, s.Duration)
		}
		segDurations = append(segDurations, ds)
	}
	// Aligned keyframes: every rendition is cut at the same instants.
	for i := 1; i < len(segDurations); i++ {
		if fmtDurations(segDurations[i]) != fmtDurations(segDurations[0]) {
			t.Errorf("segments not aligned: %v vs %v", segDurations[i], segDurations[0])
		}
	}

	top := res.Renditions[len(res.Renditions)-1]
	if res.Width != w || res.Height != h || top.Width != w || top.Height != h {
		t.Errorf("top rendition %dx%d (result %dx%d), want %dx%d", top.Width, top.Height, res.Width, res.Height, w, h)
	}
	if p.HasVideo {
		gw, gh := probeSize(t, filepath.Join(out, top.Playlist), "hls")
		if gw != w || gh != h {
			t.Errorf("top rendition encoded %dx%d, want %dx%d", gw, gh, w, h)
		}
	}

	if res.MP4 == "" {
		t.Fatal("no download MP4")
	}
	near("download.mp4", probeDuration(t, filepath.Join(out, res.MP4), ""))
	checkFaststart(t, filepath.Join(out, res.MP4))

	if p.HasVideo {
		for _, f := range []string{res.Poster, res.Sprite, res.SpriteVTT} {
			if f == "" {
				t.Fatalf("missing poster/sprite/vtt: %+v", res)
			}
			if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
				t.Errorf("%s missing or empty: %v", f, err)
			}
		}
		checkThumbs(t, filepath.Join(out, res.SpriteVTT), res, src)
	} else if res.Poster != "" || res.Sprite != "" || res.SpriteVTT != "" {
		t.Errorf("audio-only input should have no poster/sprite: %+v", res)
	}

	if p.HasAudio {
		checkWaveform(t, filepath.Join(out, res.Waveform), src)
	} else if res.Waveform != "" {
		t.Errorf("silent clip should have no waveform: %+v", res)
	}
}

func fmtDurations(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, strconv.FormatInt(d.Milliseconds(), 10))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ffprobeJSON probes an output with ffmpeg-go, as the package does.
func ffprobeJSON(t *testing.T, path, format string, entries string) map[string]any {
	t.Helper()
	args := ffmpeg.KwArgs{"v": "error", "show_entries": entries, "of": "json"}
	if format != "" {
		args["f"] = format
	}
	out, err := ffmpeg.ProbeWithTimeoutExec(path, time.Minute, args)
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func probeDuration(t *testing.T, path, format string) float64 {
	t.Helper()
	v := ffprobeJSON(t, path, format, "format=duration")
	d, _ := v["format"].(map[string]any)["duration"].(string)
	return parseFloat(d)
}

func probeSize(t *testing.T, path, format string) (int, int) {
	t.Helper()
	v := ffprobeJSON(t, path, format, "stream=codec_type,width,height")
	for _, s := range v["streams"].([]any) {
		m := s.(map[string]any)
		if m["codec_type"] == "video" {
			return int(m["width"].(float64)), int(m["height"].(float64))
		}
	}
	t.Fatalf("no video stream in %s", path)
	return 0, 0
}

// checkFaststart asserts the MP4 index (moov) comes before the media data.
func checkFaststart(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	moov, mdat := strings.Index(string(b), "moov"), strings.Index(string(b), "mdat")
	if moov < 0 || mdat < 0 || moov > mdat {
		t.Errorf("download.mp4 is not faststart (moov at %d, mdat at %d)", moov, mdat)
	}
}

func checkThumbs(t *testing.T, path string, res *Result, src float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, "WEBVTT\n") {
		t.Fatalf("thumbs.vtt does not start with WEBVTT: %q", text)
	}
	cues := strings.Count(text, " --> ")
	if cues == 0 || cues != strings.Count(text, "sprite.jpg#xywh=") {
		t.Errorf("thumbs.vtt cues malformed:\n%s", text)
	}
	if want := int(math.Ceil(src / 2)); cues != want {
		t.Errorf("thumbs.vtt has %d cues, want %d for %.1fs at 2s", cues, want, src)
	}
	sw, sh := probeSize(t, filepath.Join(filepath.Dir(path), res.Sprite), "")
	if sw < res.SpriteThumbWidth*min(cues, 10) || sh < res.SpriteThumbHeight {
		t.Errorf("sprite %dx%d too small for %d thumbnails of %dx%d", sw, sh, cues, res.SpriteThumbWidth, res.SpriteThumbHeight)
	}
}

func checkWaveform(t *testing.T, path string, src float64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w Waveform
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	if w.Version != 2 || w.Channels != 1 || w.Bits != 8 || len(w.Data) != 2*w.Length {
		t.Fatalf("waveform header wrong: %+v", w)
	}
	got := float64(w.Length*w.SamplesPerPixel) / float64(w.SampleRate)
	if math.Abs(got-src) > 0.1 {
		t.Errorf("waveform covers %.3fs, source %.3fs", got, src)
	}
	// The fixtures carry a sine tone: the waveform must not be flat.
	loud := 0
	for i := 0; i+1 < len(w.Data); i += 2 {
		if w.Data[i] < -5 && w.Data[i+1] > 5 {
			loud++
		}
	}
	if loud < w.Length/2 {
		t.Errorf("waveform is mostly flat: %d of %d pixels loud", loud, w.Length)
	}
}

func TestTranscodeCancelledMidJob(t *testing.T) {
	t.Parallel()
	in := fixturePath(t, "long30.mp4")
	p, err := ProbeFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := filepath.Join(t.TempDir(), "out")
	// Cancel on ffmpeg's first progress report: the encode has started and
	// is far from done (a slow preset on 30 s of video).
	_, err = Transcode(ctx, in, out, p, Options{Threads: 1, Preset: "slow"}, func(float64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output dir should be removed after failure, stat: %v", err)
	}
}

func TestTranscodeTimeoutKeepsCallerDir(t *testing.T) {
	t.Parallel()
	in := fixturePath(t, "long30.mp4")
	p, err := ProbeFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() // exists and is empty: Transcode must leave it empty
	_, err = Transcode(context.Background(), in, out, p, Options{Threads: 1, Timeout: time.Millisecond}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	entries, err := os.ReadDir(out)
	if err != nil || len(entries) != 0 {
		t.Errorf("caller's dir should be left empty, has %d entries (%v)", len(entries), err)
	}
}

func TestTranscodeFailureCarriesStderr(t *testing.T) {
	t.Parallel()
	in := fixturePath(t, "faststart.mp4")
	p, err := ProbeFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	_, err = Transcode(context.Background(), in, out, p, Options{Threads: 1, Preset: "no-such-preset"}, nil)
	if err == nil || !strings.Contains(err.Error(), "ffmpeg failed") || !strings.Contains(strings.ToLower(err.Error()), "preset") {
		t.Fatalf("want ffmpeg error with stderr tail, got %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output dir should be removed, stat: %v", err)
	}
}

func TestRefusesUnsafePaths(t *testing.T) {
	t.Parallel()
	p := &Probe{HasVideo: true, Width: 320, Height: 240, Duration: time.Second}
	cases := []struct{ in, out string }{
		{"-i.mp4", "/tmp/x"},
		{"", "/tmp/x"},
		{"/tmp/in.mp4", "-y"},
		{"/tmp/in.mp4", "/tmp/50%off"},
	}
	for _, tc := range cases {
		if _, err := Transcode(context.Background(), tc.in, tc.out, p, Options{}, nil); err == nil {
			t.Errorf("Transcode(%q, %q) accepted an unsafe path", tc.in, tc.out)
		}
	}
	if _, err := ProbeFile(context.Background(), "-show_format"); err == nil {
		t.Error("ProbeFile accepted a path starting with '-'")
	}
	out := filepath.Join(t.TempDir(), "nonempty")
	if err := os.MkdirAll(filepath.Join(out, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Transcode(context.Background(), fixturePath(t, "faststart.mp4"), out, p, Options{}, nil); err == nil {
		t.Error("Transcode wrote into a non-empty directory")
	}
	if _, err := os.Stat(filepath.Join(out, "x")); err != nil {
		t.Errorf("Transcode touched a directory it refused: %v", err)
	}
}

// TestTranscodeFFmpegKilled kills ffmpeg from outside (as the OOM killer or
// an operator would) while it encodes.
func TestTranscodeFFmpegKilled(t *testing.T) {
	t.Parallel()
	in := fixturePath(t, "long30.mp4")
	p, err := ProbeFile(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "killme")
	var once sync.Once
	killed := false
	_, err = Transcode(context.Background(), in, out, p, Options{Threads: 1, Preset: "slow"}, func(float64) {
		once.Do(func() { killed = killFFmpegWriting(t, out) })
	})
	if !killed {
		t.Fatal("did not find the ffmpeg process to kill")
	}
	if err == nil || !strings.Contains(err.Error(), "ffmpeg failed") {
		t.Fatalf("want ffmpeg failure, got %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output dir should be removed after failure, stat: %v", err)
	}
}

// killFFmpegWriting finds the ffmpeg process whose command line mentions
// dir and sends it SIGKILL.
func killFFmpegWriting(t *testing.T, dir string) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Errorf("read /proc: %v", err)
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "ffmpeg" && strings.Contains(string(cmdline), dir+"/") {
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Errorf("kill %d: %v", pid, err)
				return false
			}
			return true
		}
	}
	return false
}
