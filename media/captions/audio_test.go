package captions

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestExtractAudioNormalizes feeds the audio layouts phones and cameras
// produce; every one must come out as 16 kHz mono 16-bit WAV of the same
// length.
func TestExtractAudioNormalizes(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	cases := []struct {
		name string
		args []string // ffmpeg input arguments for a 2 s source
		ext  string
	}{
		{"8 kHz mono", []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=2"}, "wav"},
		{"96 kHz stereo", []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=96000:duration=2", "-ac", "2"}, "wav"},
		{"5.1 six channels", []string{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2", "-af", "pan=5.1|c0=c0|c1=c0|c2=c0|c3=c0|c4=c0|c5=c0"}, "mkv"},
		{"video with aac", []string{"-f", "lavfi", "-i", "color=c=black:s=160x120:r=10:d=2", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"}, "mp4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "in."+tc.ext)
			ffmpegGen(t, append(tc.args, in)...)
			out := filepath.Join(dir, "out.wav")
			if err := ExtractAudio(context.Background(), in, out); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := readWAVHeader(f)
			if err != nil {
				t.Fatal(err)
			}
			if info.SampleRate != 16000 || info.Channels != 1 || info.Bits != 16 {
				t.Fatalf("got %+v, want 16 kHz mono 16-bit", info)
			}
			d, err := wavDuration(out)
			if err != nil {
				t.Fatal(err)
			}
			if d < 1900*time.Millisecond || d > 2200*time.Millisecond {
				t.Errorf("duration %s, want about 2 s", d)
			}
		})
	}
}

func TestExtractAudioNoAudioStream(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	in := filepath.Join(dir, "silent-film.mp4")
	ffmpegGen(t, "-f", "lavfi", "-i", "color=c=black:s=160x120:r=10:d=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", in)
	err := ExtractAudio(context.Background(), in, filepath.Join(dir, "out.wav"))
	if !errors.Is(err, ErrNoAudio) {
		t.Fatalf("err = %v, want ErrNoAudio", err)
	}
}

func TestExtractAudioBadInput(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	in := filepath.Join(dir, "junk.mp4")
	os.WriteFile(in, []byte("this is not a video"), 0o644)
	err := ExtractAudio(context.Background(), in, filepath.Join(dir, "out.wav"))
	if err == nil || errors.Is(err, ErrNoAudio) {
		t.Fatalf("err = %v, want a decode error", err)
	}
}

func TestOpenEngineWAVRejectsWrongFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.wav")
	h := wavHeader(4)
	binary.LittleEndian.PutUint32(h[24:], 44100)
	os.WriteFile(p, append(h, 0, 0, 0, 0), 0o644)
	if _, _, _, err := openEngineWAV(p); !errors.Is(err, ErrInvalidAudio) {
		t.Fatalf("44.1 kHz: err = %v", err)
	}
	os.WriteFile(p, []byte("RIFF...."), 0o644)
	if _, _, _, err := openEngineWAV(p); !errors.Is(err, ErrInvalidAudio) {
		t.Fatalf("truncated: err = %v", err)
	}
}

// tone returns n 10 ms frames of a 300 Hz tone at the given amplitude.
func tone(frames int, amp float64) []byte {
	b := make([]byte, frames*frameBytes)
	for i := 0; i < frames*frameSamples; i++ {
		v := int16(amp * 32767 * math.Sin(2*math.Pi*300*float64(i)/SampleRate))
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// TestSplitWAVCutsInPauses checks segments are within bounds, cut inside
// the pause, and add up to the input exactly.
func TestSplitWAVCutsInPauses(t *testing.T) {
	t.Parallel()
	// 3 s speech, 0.5 s pause, 3 s speech, 0.3 s pause, 3 s speech.
	var pcm []byte
	pcm = append(pcm, tone(300, 0.5)...)
	pcm = append(pcm, tone(50, 0.001)...)
	pcm = append(pcm, tone(300, 0.5)...)
	pcm = append(pcm, tone(30, 0)...)
	pcm = append(pcm, tone(300, 0.5)...)
	dir := t.TempDir()
	var segs []segment
	err := splitWAV(context.Background(), bytes.NewReader(pcm), dir, 2*time.Second, 5*time.Second, func(s segment) error {
		segs = append(segs, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 {
		t.Fatalf("got %d segments: %+v", len(segs), segs)
	}
	// Cuts fall in the middle of the pauses: 3.25 s and 6.65 s.
	wantCuts := []int64{3250, 6650}
	var total int64
	for i, s := range segs {
		if s.offsetMS != total {
			t.Errorf("segment %d offset %d, want %d", i, s.offsetMS, total)
		}
		total += s.durMS
		if i < len(wantCuts) && abs(int(total-wantCuts[i])) > 20 {
			t.Errorf("cut %d at %d ms, want %d", i, total, wantCuts[i])
		}
		d, err := wavDuration(s.path)
		if err != nil {
			t.Fatal(err)
		}
		if d.Milliseconds() != s.durMS {
			t.Errorf("segment %d file is %s, segment says %d ms", i, d, s.durMS)
		}
	}
	if want := int64(len(pcm) / 2 * 1000 / SampleRate); total != want {
		t.Errorf("segments add up to %d ms, input is %d ms", total, want)
	}
}

// TestSplitWAVContinuousSpeech: without any pause, segments still respect
// the maximum length.
func TestSplitWAVContinuousSpeech(t *testing.T) {
	t.Parallel()
	pcm := tone(1234, 0.5)
	var segs []segment
	err := splitWAV(context.Background(), bytes.NewReader(pcm), t.TempDir(), time.Second, 3*time.Second, func(s segment) error {
		segs = append(segs, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, s := range segs {
		if s.durMS > 3000 {
			t.Errorf("segment of %d ms exceeds the 3 s maximum", s.durMS)
		}
		total += s.durMS
	}
	if total != 12340 {
		t.Errorf("total %d ms, want 12340", total)
	}
}

// lessonReader serves hours of speech-like audio (5 s tone, 0.5 s pause)
// without holding it in memory.
type lessonReader struct {
	block []byte
	pos   int
	left  int64
}

func newLessonReader(d time.Duration) *lessonReader {
	block := append(tone(500, 0.3), tone(50, 0)...)
	return &lessonReader{block: block, left: int64(d/time.Second) * SampleRate * 2}
}

func (l *lessonReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.block[l.pos:])
		n += c
		l.pos = (l.pos + c) % len(l.block)
	}
	l.left -= int64(n)
	return n, nil
}

// TestSplitWAVMemoryFlat splits a three-hour lesson and checks the heap
// never holds more than a few segments' worth, however long the input.
func TestSplitWAVMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("streams three hours of audio through the splitter")
	}
	t.Parallel()
	var maxHeap uint64
	var total int64
	segs := 0
	err := splitWAV(context.Background(), newLessonReader(3*time.Hour), t.TempDir(), 20*time.Second, 40*time.Second, func(s segment) error {
		os.Remove(s.path)
		total += s.durMS
		segs++
		if segs%10 == 0 {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			maxHeap = max(maxHeap, ms.HeapInuse)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != (3 * time.Hour).Milliseconds() {
		t.Errorf("segments cover %d ms, want 3 h", total)
	}
	t.Logf("%d segments, peak heap in use %.1f MB", segs, float64(maxHeap)/(1<<20))
	if maxHeap > 48<<20 {
		t.Errorf("peak heap %d MB: the splitter is holding audio it should stream", maxHeap>>20)
	}
}
