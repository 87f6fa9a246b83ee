package captions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestPocketsphinx(t *testing.T, cfg Config) Engine {
	t.Helper()
	needTools(t, "pocketsphinx_continuous")
	cfg.Engine = EnginePocketsphinx
	cfg.TempDir = t.TempDir()
	e, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// findWord returns the first word with text w, or false.

// TestPocketsphinxFindsSpokenWords runs the whole path a clip takes: an MP4
// with known speech, audio extraction, splitting into segments (small
// segments force several, recognized in parallel), and merging. The word
// "three" must be found within 1 s of where it was spoken, each time.
func TestPocketsphinxFindsSpokenWords(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	video := makeLessonVideo(t, dir, []speechPart{
		{silenceSec: 2.5, text: "three"},
		{silenceSec: 3.0, text: "three"},
	})
	wav := filepath.Join(dir, "audio.wav")
	if err := ExtractAudio(context.Background(), video, wav); err != nil {
		t.Fatal(err)
	}
	e := newTestPocketsphinx(t, Config{Workers: 2, MinSegment: 2 * time.Second, MaxSegment: 4 * time.Second})

	var mu sync.Mutex
	var progress []float64
	words, err := e.Transcribe(context.Background(), wav, "en-US", func(p float64) {
		mu.Lock()
		progress = append(progress, p)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("words: %+v", words)
	// espeak-ng starts speaking about 50 ms into its output; "three" lasts
	// about half a second at 120 words per minute.
	speechLen := wavLen(t, filepath.Join(dir, "speech-0.wav"))
	wantStarts := []int64{2500, 2500 + speechLen.Milliseconds() + 3000}
	var found []Word
	for _, w := range words {
		if w.Text == "three" {
			found = append(found, w)
		}
	}
	if len(found) != len(wantStarts) {
		t.Fatalf("found %d × \"three\", want %d: %+v", len(found), len(wantStarts), words)
	}
	for i, w := range found {
		if d := w.StartMS - wantStarts[i]; d < -1000 || d > 1000 {
			t.Errorf("\"three\" #%d at %d ms, want within 1 s of %d ms", i+1, w.StartMS, wantStarts[i])
		}
		if w.Confidence <= 0 || w.Confidence > 1 {
			t.Errorf("confidence %v out of range", w.Confidence)
		}
	}
	for i := 1; i < len(words); i++ {
		if words[i].StartMS < words[i-1].StartMS {
			t.Errorf("words out of order at %d: %+v", i, words)
		}
	}
	if len(progress) < 2 || progress[0] != 0 || progress[len(progress)-1] != 100 {
		t.Errorf("progress = %v, want 0 … 100", progress)
	}
	for i := 1; i < len(progress); i++ {
		if progress[i] < progress[i-1] {
			t.Errorf("progress went backwards: %v", progress)
		}
	}
	if v := CheckCues(BuildCues(words), DefaultRules()); len(v) > 0 {
		t.Errorf("cues break rules: %v", v)
	}
}

func wavLen(t *testing.T, path string) time.Duration {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := readWAVHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	return info.Duration()
}

func TestPocketsphinxSilenceGivesNoWords(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	in := filepath.Join(dir, "silent.mp4")
	ffmpegGen(t, "-f", "lavfi", "-i", "color=c=black:s=160x120:r=10", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", in)
	wav := filepath.Join(dir, "a.wav")
	if err := ExtractAudio(context.Background(), in, wav); err != nil {
		t.Fatal(err)
	}
	e := newTestPocketsphinx(t, Config{})
	words, err := e.Transcribe(context.Background(), wav, "", nil)
	if err != nil {
		t.Fatalf("silence: %v", err)
	}
	if len(words) != 0 {
		t.Errorf("silence produced words: %+v", words)
	}
}

// TestPocketsphinxFailures covers the ways the engine process can go wrong:
// each must give its own error, not a hang or an empty transcript.
func TestPocketsphinxFailures(t *testing.T) {
	t.Parallel()
	needTools(t, "pocketsphinx_continuous")
	dir := t.TempDir()
	wav := filepath.Join(dir, "a.wav")
	pcm := make([]byte, SampleRate*2*3) // 3 s of silence
	if err := writeWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	crash := fakeEngine(t, dir, "crash", `echo "ERROR: \"acmod.c\", line 83: simulated crash" >&2; exit 1`)
	hang := fakeEngine(t, dir, "hang", `sleep 600`)
	vanishing := fakeEngine(t, dir, "vanishing", `exit 0`)

	cases := []struct {
		name    string
		bin     string
		lang    string
		prepare func()
		wantErr error
		wantMsg string
	}{
		{name: "crash", bin: crash, wantErr: ErrEngineFailed, wantMsg: "simulated crash"},
		{name: "hang", bin: hang, wantErr: ErrEngineTimeout, wantMsg: "killed"},
		{name: "binary removed after start", bin: vanishing, prepare: func() { os.Remove(vanishing) }, wantErr: ErrEngineNotFound},
		{name: "unsupported language", bin: crash, lang: "fr", wantErr: ErrUnsupportedLanguage},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Config{
				Engine:                EnginePocketsphinx,
				Pocketsphinx:          PocketsphinxConfig{Bin: tc.bin},
				TimeoutBase:           500 * time.Millisecond,
				TimeoutPerAudioSecond: -1,
				TempDir:               t.TempDir(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.prepare != nil {
				tc.prepare()
			}
			_, err = e.Transcribe(context.Background(), wav, tc.lang, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("err = %q, want it to mention %q", err, tc.wantMsg)
			}
		})
	}
}

func TestNewReportsMissingEngine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want error
	}{
		{"pocketsphinx binary", Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{Bin: "/nonexistent/pocketsphinx_continuous"}}, ErrEngineNotFound},
		{"pocketsphinx model", Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{Bin: "sh", HMM: "/nonexistent/model"}}, ErrEngineNotFound},
		{"whisper model unset", Config{Engine: EngineWhisper}, ErrEngineNotFound},
		{"whisper model missing", Config{Engine: EngineWhisper, Whisper: WhisperConfig{Model: "/nonexistent/ggml.bin"}}, ErrEngineNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := New(Config{Engine: "espeak"}); err == nil {
		t.Error("unknown engine accepted")
	}
	e, err := New(Config{Engine: EngineNone})
	if err != nil || e.Name() != EngineNone {
		t.Fatalf("none: %v %v", e, err)
	}
	words, err := e.Transcribe(context.Background(), "/any", "", nil)
	if err != nil || len(words) != 0 {
		t.Errorf("none engine: %v %v", words, err)
	}
}

func TestParsePocketsphinxOutput(t *testing.T) {
	t.Parallel()
	out := `and mr john guess what
<s> 0.000 0.140 0.999400
and(2) 0.150 0.360 0.260057
[NOISE] 0.370 0.400 0.5
mr 0.370 0.620 0.988762
<sil> 3.910 3.930 0.553348
++BREATH++ 4.0 4.1 0.9
power 5.740 6.030 0.866220
</s> 7.050 7.080 1.000000
one two three four
`
	got := parsePocketsphinxOutput([]byte(out), 60000)
	want := []Word{
		{StartMS: 60150, EndMS: 60370, Text: "and", Confidence: 0.260057},
		{StartMS: 60370, EndMS: 60630, Text: "mr", Confidence: 0.988762},
		{StartMS: 65740, EndMS: 66040, Text: "power", Confidence: 0.86622},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("word %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestPocketsphinxCancelAndCleanup: cancelling the job stops every engine
// process and leaves no segment files behind; a crash in one segment stops
// the others too.
func TestPocketsphinxCancelAndCleanup(t *testing.T) {
	t.Parallel()
	needTools(t, "pocketsphinx_continuous")
	dir := t.TempDir()
	wav := filepath.Join(dir, "a.wav")
	if err := writeWAV(wav, tone(1200, 0.3)); err != nil { // 12 s, several segments
		t.Fatal(err)
	}
	hang := fakeEngine(t, dir, "hang", "sleep 600")
	// Crashes on the third segment only, after the others succeeded.
	flaky := fakeEngine(t, dir, "flaky", `case "$2" in *seg-000002.wav) echo "ERROR: bad segment" >&2; exit 1;; esac; echo "x 0.100 0.200 0.9"`)

	t.Run("cancel", func(t *testing.T) {
		tmp := t.TempDir()
		e, err := New(Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{Bin: hang},
			MinSegment: time.Second, MaxSegment: 2 * time.Second, TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		var once sync.Once
		go func() {
			// Cancel once the splitter has written a segment.
			for {
				if m, _ := filepath.Glob(filepath.Join(tmp, "*", "seg-*.wav")); len(m) > 0 {
					once.Do(func() { close(started) })
					cancel()
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		_, err = e.Transcribe(ctx, wav, "", nil)
		<-started
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
	})
	t.Run("one segment crashes", func(t *testing.T) {
		tmp := t.TempDir()
		e, err := New(Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{Bin: flaky},
			MinSegment: time.Second, MaxSegment: 2 * time.Second, TempDir: tmp, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Transcribe(context.Background(), wav, "", nil)
		if !errors.Is(err, ErrEngineFailed) || !strings.Contains(err.Error(), "segment 2") || !strings.Contains(err.Error(), "bad segment") {
			t.Fatalf("err = %v", err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("temporary files left behind: %v", left)
		}
	})
}

// TestPocketsphinx5JSON runs the engine against a stand-in for PocketSphinx
// 5's "pocketsphinx live" that prints its documented line-delimited JSON.
func TestPocketsphinx5JSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wav := filepath.Join(dir, "a.wav")
	if err := writeWAV(wav, tone(500, 0.3)); err != nil {
		t.Fatal(err)
	}
	bin := fakeEngine(t, dir, "pocketsphinx", `[ "$1" = live ] || { echo "usage: want live FILE" >&2; exit 2; }
echo '{"b":0.000,"d":1.200,"p":0.900,"t":"go forward","w":[{"b":0.000,"d":0.150,"p":1.000,"t":"<sil>"},{"b":0.150,"d":0.300,"p":0.950,"t":"go"},{"b":0.450,"d":0.500,"p":0.800,"t":"forward(2)"},{"b":0.950,"d":0.100,"p":0.9,"t":"[NOISE]"}]}'
echo '{"b":2.000,"d":0.010,"p":1.000,"t":"","w":[]}'`)
	e, err := New(Config{Engine: EnginePocketsphinx, Pocketsphinx: PocketsphinxConfig{Bin: bin}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	words, err := e.Transcribe(context.Background(), wav, "en", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Word{{StartMS: 150, EndMS: 450, Text: "go", Confidence: 0.95}, {StartMS: 450, EndMS: 950, Text: "forward", Confidence: 0.8}}
	if len(words) != 2 || words[0] != want[0] || words[1] != want[1] {
		t.Fatalf("words = %+v, want %+v", words, want)
	}
	if _, err := parsePocketsphinx5Output([]byte("{broken\n"), 0); err == nil {
		t.Error("broken JSON accepted")
	}
}
