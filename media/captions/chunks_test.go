package captions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// spokenAudio is a 16 kHz mono WAV made of espeak-ng sentences with known
// silences between them, and where each sentence lies.
type spokenAudio struct {
	wav    string
	speech [][2]int64 // [start, end) ms of each sentence
	total  int64
}

// makeSpokenWAV speaks each text after its silence (samples of zeros, so
// positions are exact); with noise > 0 pink noise of that amplitude is
// mixed over everything, so no stretch is digitally silent.
func makeSpokenWAV(t *testing.T, dir string, parts []speechPart, noise float64) spokenAudio {
	t.Helper()
	needTools(t, "ffmpeg", "espeak-ng")
	var pcm []byte
	var sa spokenAudio
	for i, p := range parts {
		raw := filepath.Join(dir, fmt.Sprintf("say-%d.wav", i))
		run(t, "espeak-ng", "-v", "en-us", "-s", "150", "-w", raw, p.text)
		norm := filepath.Join(dir, fmt.Sprintf("say-%d-16k.wav", i))
		ffmpegGen(t, "-i", raw, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", norm)
		b, err := os.ReadFile(norm)
		if err != nil {
			t.Fatal(err)
		}
		silence := int(p.silenceSec*SampleRate) * 2
		pcm = append(pcm, make([]byte, silence)...)
		start := int64(len(pcm) / 2 * 1000 / SampleRate)
		pcm = append(pcm, b[44:]...)
		sa.speech = append(sa.speech, [2]int64{start, int64(len(pcm) / 2 * 1000 / SampleRate)})
	}
	pcm = append(pcm, make([]byte, SampleRate)...) // half a second of tail
	sa.total = int64(len(pcm) / 2 * 1000 / SampleRate)
	clean := filepath.Join(dir, "clean.wav")
	if err := writeWAV(clean, pcm); err != nil {
		t.Fatal(err)
	}
	sa.wav = clean
	if noise > 0 {
		sa.wav = filepath.Join(dir, "noisy.wav")
		ffmpegGen(t, "-i", clean, "-f", "lavfi", "-i", fmt.Sprintf("anoisesrc=c=pink:a=%g:r=16000:s=7", noise),
			"-filter_complex", "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", sa.wav)
	}
	return sa
}

var lessonSentences = []string{
	"Today we are going to look at fractions on a number line.",
	"Who can tell me what the bottom number means?",
	"Good, it tells us how many equal parts there are.",
	"Now take your ruler and draw a line across the page.",
	"Mark zero at one end and one at the other end.",
	"Split the line into four equal parts.",
	"Where would one half go on your line?",
	"Talk to your partner for one minute.",
}

func lessonParts(pauseSec float64) []speechPart {
	parts := make([]speechPart, len(lessonSentences))
	for i, s := range lessonSentences {
		parts[i] = speechPart{silenceSec: pauseSec, text: s}
	}
	return parts
}

// TestSplitAudio cuts real speech and checks that the chunks tile the audio
// exactly, that every cut falls in a pause between sentences (never inside
// one), and that lengths keep to the target's bounds.
func TestSplitAudio(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clean := makeSpokenWAV(t, filepath.Join(mkdir(t, dir, "clean")), lessonParts(1.2), 0)
	noisy := makeSpokenWAV(t, filepath.Join(mkdir(t, dir, "noisy")), lessonParts(1.2), 0.08)
	short := makeSpokenWAV(t, filepath.Join(mkdir(t, dir, "short")), lessonParts(1.2)[:2], 0)
	for _, tc := range []struct {
		name       string
		audio      spokenAudio
		target     time.Duration
		wantChunks int  // 0: at least 2
		noPauses   bool // silencedetect must find none (the fallback cuts)
	}{
		{"short audio is one chunk", short, 30 * time.Second, 1, false},
		{"speech with pauses", clean, 8 * time.Second, 0, false},
		{"small target", clean, 4 * time.Second, 0, false},
		{"pink noise hides every pause from silencedetect", noisy, 8 * time.Second, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := t.TempDir()
			if tc.noPauses {
				p, err := detectPauses(context.Background(), tc.audio.wav, SplitOptions{}.withDefaults())
				if err != nil || len(p) > 0 {
					t.Fatalf("silencedetect found pauses %v (%v); the noise is too quiet for this case", p, err)
				}
			}
			chunks, err := SplitAudio(context.Background(), tc.audio.wav, out, SplitOptions{Target: tc.target})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantChunks > 0 && len(chunks) != tc.wantChunks {
				t.Fatalf("%d chunks, want %d: %+v", len(chunks), tc.wantChunks, chunks)
			}
			if tc.wantChunks == 0 && len(chunks) < 2 {
				t.Fatalf("%d chunks of %d ms audio with target %s", len(chunks), tc.audio.total, tc.target)
			}
			var at int64
			for i, c := range chunks {
				if c.Index != i || c.OffsetMS != at {
					t.Errorf("chunk %d: index %d offset %d, want offset %d", i, c.Index, c.OffsetMS, at)
				}
				got := wavLen(t, c.Path).Milliseconds()
				if got != c.DurMS {
					t.Errorf("chunk %d: file holds %d ms, chunk says %d", i, got, c.DurMS)
				}
				tms := tc.target.Milliseconds()
				if len(chunks) > 1 && (c.DurMS < tms/2-10 || c.DurMS > tms*3/2+10) {
					t.Errorf("chunk %d: %d ms, want within [%d, %d]", i, c.DurMS, tms/2, tms*3/2)
				}
				if i > 0 {
					for _, s := range tc.audio.speech {
						// espeak-ng fades in and out over ~30 ms.
						if c.OffsetMS > s[0]+30 && c.OffsetMS < s[1]-30 {
							t.Errorf("cut at %d ms is inside a sentence [%d, %d]", c.OffsetMS, s[0], s[1])
						}
					}
				}
				at += c.DurMS
			}
			if d := at - tc.audio.total; d < -1 || d > 1 {
				t.Errorf("chunks cover %d ms of %d", at, tc.audio.total)
			}
		})
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	p := filepath.Join(parent, name)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChunkPlace(t *testing.T) {
	t.Parallel()
	c := Chunk{Index: 2, OffsetMS: 60000, DurMS: 30000}
	for _, tc := range []struct {
		name string
		in   []Word
		want []Word
	}{
		{"shifted by the offset", []Word{{StartMS: 0, EndMS: 400, Text: "a"}, {StartMS: 500, EndMS: 900, Text: "b"}},
			[]Word{{StartMS: 60000, EndMS: 60400, Text: "a"}, {StartMS: 60500, EndMS: 60900, Text: "b"}}},
		{"a word past the end is clamped", []Word{{StartMS: 29800, EndMS: 30300, Text: "c"}},
			[]Word{{StartMS: 89800, EndMS: 90000, Text: "c"}}},
		{"negative start is clamped", []Word{{StartMS: -20, EndMS: 100, Text: "d"}},
			[]Word{{StartMS: 60000, EndMS: 60100, Text: "d"}}},
		{"end before start is raised", []Word{{StartMS: 100, EndMS: 50, Text: "e"}},
			[]Word{{StartMS: 60100, EndMS: 60100, Text: "e"}}},
		{"nothing", nil, []Word{}},
	} {
		if got := c.Place(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestMergeChunks(t *testing.T) {
	t.Parallel()
	chunks := []Chunk{{Index: 0, OffsetMS: 0, DurMS: 1000}, {Index: 1, OffsetMS: 1000, DurMS: 1000}, {Index: 2, OffsetMS: 2000, DurMS: 1000}}
	w := func(s, e int64, text string) Word { return Word{StartMS: s, EndMS: e, Text: text, Confidence: 1} }
	for _, tc := range []struct {
		name   string
		chunks []Chunk
		parts  [][]Word
		want   []Word
		err    error
	}{
		{"in order", chunks, [][]Word{{w(100, 400, "one")}, {w(1100, 1400, "two")}, {w(2100, 2400, "three")}},
			[]Word{w(100, 400, "one"), w(1100, 1400, "two"), w(2100, 2400, "three")}, nil},
		{"chunks given out of order", []Chunk{chunks[2], chunks[0], chunks[1]},
			[][]Word{{w(2100, 2400, "three")}, {w(100, 400, "one")}, {w(1100, 1400, "two")}},
			[]Word{w(100, 400, "one"), w(1100, 1400, "two"), w(2100, 2400, "three")}, nil},
		{"a pending chunk leaves a gap", chunks, [][]Word{{w(100, 400, "one")}, nil, {w(2100, 2400, "three")}},
			[]Word{w(100, 400, "one"), w(2100, 2400, "three")}, nil},
		{"words out of order in a chunk", chunks[:1], [][]Word{{w(500, 700, "b"), w(100, 400, "a")}},
			[]Word{w(100, 400, "a"), w(500, 700, "b")}, nil},
		{"a word running over the border is cut at the next", chunks[:2], [][]Word{{w(800, 1000, "end")}, {w(1000, 1300, "next")}},
			[]Word{w(800, 1000, "end"), w(1000, 1300, "next")}, nil},
		{"blank words dropped", chunks[:1], [][]Word{{w(100, 200, " "), w(300, 400, "x")}}, []Word{w(300, 400, "x")}, nil},
		{"overlapping chunks refused", []Chunk{{Index: 0, DurMS: 1500}, {Index: 1, OffsetMS: 1000, DurMS: 1000}},
			[][]Word{nil, nil}, nil, ErrChunksOverlap},
	} {
		got, err := MergeChunks(tc.chunks, tc.parts)
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if _, err := MergeChunks(chunks, nil); err == nil {
		t.Error("results for no chunks merged")
	}
	// A sentence spoken across a border becomes the same cues as in one pass.
	one := []Word{w(700, 900, "where"), w(950, 1100, "would"), w(1150, 1300, "it"), w(1350, 1600, "go?")}
	merged, err := MergeChunks(chunks[:2], [][]Word{one[:2], one[2:]})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := BuildCues(one), BuildCues(merged); !reflect.DeepEqual(a, b) {
		t.Errorf("cues across a border %+v, one pass %+v", b, a)
	}
}

// TestChunkedRecognitionMatchesOnePass recognizes the same speech in one
// pass and in chunks (placed and merged) with pocketsphinx: the chunked
// words must be as accurate and land where they were spoken.
func TestChunkedRecognitionMatchesOnePass(t *testing.T) {
	t.Parallel()
	audio := makeSpokenWAV(t, t.TempDir(), lessonParts(1.2), 0)
	e := newTestPocketsphinx(t, Config{Workers: 2})
	ctx := context.Background()
	onePass, err := e.Transcribe(ctx, audio.wav, "en", nil)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := SplitAudio(ctx, audio.wav, t.TempDir(), SplitOptions{Target: 8 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	parts := make([][]Word, len(chunks))
	for i, c := range chunks {
		ws, err := e.Transcribe(ctx, c.Path, "en", nil)
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = c.Place(ws)
	}
	merged, err := MergeChunks(chunks, parts)
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.Fields(strings.ToLower(strings.NewReplacer(",", "", ".", "", "?", "").Replace(strings.Join(lessonSentences, " "))))
	werOf := func(ws []Word) float64 {
		hyp := make([]string, len(ws))
		for i, w := range ws {
			hyp[i] = strings.ToLower(w.Text)
		}
		return float64(editDistance(ref, hyp)) / float64(len(ref))
	}
	one, chunked := werOf(onePass), werOf(merged)
	t.Logf("%d chunks; WER one pass %.3f, chunked %.3f\n%v\n%v", len(chunks), one, chunked, wordTexts(onePass), wordTexts(merged))
	// espeak-ng speech is hard for pocketsphinx's model, so both rates are
	// high here; the benchmark compares them on LibriVox recordings. Chunks
	// may cost a little context, never much.
	if chunked > one+0.1 {
		t.Errorf("chunked WER %.3f, one pass %.3f", chunked, one)
	}
	for _, w := range merged {
		inside := false
		for _, s := range audio.speech {
			if w.StartMS >= s[0]-300 && w.EndMS <= s[1]+300 {
				inside = true
			}
		}
		if !inside {
			t.Errorf("word %+v is not where any sentence was spoken (%v)", w, audio.speech)
		}
	}
}

// editDistance is the word-level Levenshtein distance.
func editDistance(a, b []string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func wordTexts(ws []Word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return out
}
