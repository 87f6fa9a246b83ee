package captions

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWhisperWithFakeCLI runs the whisper engine against scripts/fake-whisper,
// which takes whisper-cli's flags and writes whisper.cpp's JSON. Three tone
// bursts after known pauses must come back as the fake's words "one", "two",
// "three" at the burst times.
func TestWhisperWithFakeCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildFakeWhisper(t, dir)
	model := filepath.Join(dir, "ggml-base.en.bin")
	os.WriteFile(model, []byte("not really a model"), 0o644)

	// 1 s quiet, 0.5 s tone, 1 s quiet, 0.3 s tone, 2 s quiet, 0.8 s tone.
	var pcm []byte
	pcm = append(pcm, tone(100, 0)...)
	pcm = append(pcm, tone(50, 0.5)...)
	pcm = append(pcm, tone(100, 0)...)
	pcm = append(pcm, tone(30, 0.5)...)
	pcm = append(pcm, tone(200, 0)...)
	pcm = append(pcm, tone(80, 0.5)...)
	pcm = append(pcm, tone(50, 0)...)
	wav := filepath.Join(dir, "a.wav")
	if err := writeWAV(wav, pcm); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Engine: EngineWhisper, Whisper: WhisperConfig{Bin: bin, Model: model}, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != EngineWhisper {
		t.Errorf("Name = %q", e.Name())
	}
	var progress []float64
	words, err := e.Transcribe(context.Background(), wav, "en-US", func(p float64) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	want := []Word{
		{StartMS: 1000, EndMS: 1500, Text: "one"},
		{StartMS: 2500, EndMS: 2800, Text: "two"},
		{StartMS: 4800, EndMS: 5600, Text: "three"},
	}
	if len(words) != len(want) {
		t.Fatalf("words = %+v", words)
	}
	for i, w := range words {
		if w.Text != want[i].Text || w.StartMS != want[i].StartMS || w.EndMS != want[i].EndMS {
			t.Errorf("word %d = %+v, want %+v", i, w, want[i])
		}
		if w.Confidence <= 0.5 || w.Confidence > 1 {
			t.Errorf("word %d confidence %v", i, w.Confidence)
		}
	}
	if len(progress) < 3 || progress[0] != 0 || progress[len(progress)-1] != 100 {
		t.Errorf("progress = %v, want 0, parsed steps, 100", progress)
	}
}

func TestWhisperFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.bin")
	os.WriteFile(model, []byte("x"), 0o644)
	wav16 := filepath.Join(dir, "ok.wav")
	writeWAV(wav16, tone(100, 0.5))
	hang := fakeEngine(t, dir, "hang", "sleep 600")
	crash := fakeEngine(t, dir, "crash", `echo "error: failed to initialize whisper context" >&2; exit 3`)
	// whisper-cli exits 0 without output when it cannot read the input.
	silentFail := fakeEngine(t, dir, "silent", `echo "error: failed to read WAV file" >&2; exit 0`)

	cases := []struct {
		name    string
		bin     string
		wantErr error
		wantMsg string
	}{
		{"crash", crash, ErrEngineFailed, "failed to initialize whisper context"},
		{"hang", hang, ErrEngineTimeout, "killed"},
		{"no output file", silentFail, ErrEngineFailed, "wrote no out.json"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := New(Config{
				Engine:                EngineWhisper,
				Whisper:               WhisperConfig{Bin: tc.bin, Model: model},
				TimeoutBase:           500 * time.Millisecond,
				TimeoutPerAudioSecond: -1,
				TempDir:               t.TempDir(),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.Transcribe(context.Background(), wav16, "", nil)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
		})
	}
}

func TestParseWhisperJSON(t *testing.T) {
	t.Parallel()
	// Segment-level output (-oj without -ml 1), special tokens, a
	// non-speech annotation, punctuation split from its word, and a raw
	// control character whisper.cpp does not escape.
	in := "{\n\t\"transcription\": [\n" +
		"\t\t{\"offsets\": {\"from\": 0, \"to\": 1000}, \"text\": \" [BLANK_AUDIO]\"},\n" +
		"\t\t{\"offsets\": {\"from\": 1000, \"to\": 3000}, \"text\": \" Hello class\"},\n" +
		"\t\t{\"offsets\": {\"from\": 3000, \"to\": 3500}, \"text\": \" ok\", \"tokens\": [" +
		"{\"text\": \"[_BEG_]\", \"p\": 0.9}, {\"text\": \" ok\", \"offsets\": {\"from\": 3000, \"to\": 3400}, \"p\": 0.8}," +
		"{\"text\": \".\", \"offsets\": {\"from\": 3400, \"to\": 3500}, \"p\": 0.6}]},\n" +
		"\t\t{\"offsets\": {\"from\": 3500, \"to\": 3600}, \"text\": \" \x01!\"}\n" +
		"\t]\n}\n"
	words, err := parseWhisperJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Word{
		{StartMS: 1000, EndMS: 2000, Text: "Hello", Confidence: 1},
		{StartMS: 2000, EndMS: 3000, Text: "class", Confidence: 1},
		{StartMS: 3000, EndMS: 3600, Text: "ok.!", Confidence: 0.7},
	}
	if len(words) != len(want) {
		t.Fatalf("words = %+v", words)
	}
	for i := range want {
		w := words[i]
		if w.Text != want[i].Text || w.StartMS != want[i].StartMS || w.EndMS != want[i].EndMS || (w.Confidence-want[i].Confidence) > 1e-9 || (want[i].Confidence-w.Confidence) > 1e-9 {
			t.Errorf("word %d = %+v, want %+v", i, w, want[i])
		}
	}
	if _, err := parseWhisperJSON([]byte("{not json")); err == nil {
		t.Error("bad JSON accepted")
	}
}

func TestWhisperLang(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "auto", "en": "en", "en-US": "en", "pt_BR": "pt", " DE ": "de"} {
		if got := whisperLang(in); got != want {
			t.Errorf("whisperLang(%q) = %q, want %q", in, got, want)
		}
	}
}
