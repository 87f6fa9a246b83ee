package captions

import (
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// speak turns "text" into words at a steady rate starting at startMS, each
// word lasting msPerChar per character with gapMS between words.
func speak(startMS int64, text string, msPerChar, gapMS int64) []Word {
	var out []Word
	t := startMS
	for _, w := range strings.Fields(text) {
		d := int64(len(w)) * msPerChar
		out = append(out, Word{StartMS: t, EndMS: t + d, Text: w, Confidence: 0.9})
		t += d + gapMS
	}
	return out
}

func TestBuildCues(t *testing.T) {
	t.Parallel()
	cat := func(ws ...[]Word) []Word {
		var out []Word
		for _, w := range ws {
			out = append(out, w...)
		}
		return out
	}
	cases := []struct {
		name  string
		words []Word
		want  []Cue
	}{
		{name: "empty", words: nil, want: nil},
		{
			name:  "one short word gets reading time",
			words: []Word{{StartMS: 1000, EndMS: 1300, Text: "Yes."}},
			want:  []Cue{{StartMS: 1000, EndMS: 2000, Text: "Yes."}},
		},
		{
			name: "pause splits cues",
			words: cat(
				speak(0, "Good morning everyone.", 60, 100),
				speak(5000, "Open your books.", 60, 100),
			),
			want: []Cue{
				{StartMS: 0, EndMS: 1400, Text: "Good morning everyone."},
				{StartMS: 5000, EndMS: 6040, Text: "Open your books."},
			},
		},
		{
			name:  "long sentence balanced on two lines",
			words: speak(0, "Today we are going to look at equivalent fractions with pictures", 50, 80),
			want: []Cue{{StartMS: 0, EndMS: 3706, // 63 characters at 17 per second
				Text: "Today we are going to look at\nequivalent fractions with pictures"}},
		},
		{
			name:  "sentence end splits once the cue holds enough text",
			words: speak(0, "Who can tell me the answer? Maria, go ahead.", 50, 80),
			want: []Cue{
				{StartMS: 0, EndMS: 1580, Text: "Who can tell me the answer?"}, // packed: needs 1589 ms,
				{StartMS: 1580, EndMS: 2580, Text: "Maria, go ahead."},         // extended to 1 s,
			},
		},
		{
			name:  "markup characters are escaped",
			words: []Word{{StartMS: 0, EndMS: 500, Text: "Q&A"}, {StartMS: 500, EndMS: 900, Text: "<3"}},
			want:  []Cue{{StartMS: 0, EndMS: 1000, Text: "Q&amp;A &lt;3"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := BuildCues(tc.words)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d cues %+v, want %d %+v", len(got), got, len(tc.want), tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("cue %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if v := CheckCues(got, DefaultRules()); len(v) > 0 {
				t.Errorf("violations: %v", v)
			}
		})
	}
}

// TestBuildCuesLongLecture: a long monologue without pauses becomes many
// cues, all readable, none longer than 7 s.
func TestBuildCuesLongLecture(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("so when we add fractions with different denominators we first find a common denominator and then ", 40)
	words := speak(0, text, 55, 90)
	cues := BuildCues(words)
	if v := CheckCues(cues, DefaultRules()); len(v) > 0 {
		t.Fatalf("%d violations, first: %v", len(v), v[0])
	}
	assertWordsKept(t, words, cues)
}

func TestCheckCuesReportsEachRule(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cues []Cue
		rule string
	}{
		{"empty", []Cue{{StartMS: 0, EndMS: 2000, Text: "<i></i>"}}, "empty"},
		{"three lines", []Cue{{StartMS: 0, EndMS: 5000, Text: "a\nb\nc"}}, "lines"},
		{"long line", []Cue{{StartMS: 0, EndMS: 5000, Text: strings.Repeat("x", 43)}}, "line_length"},
		{"zero length", []Cue{{StartMS: 1000, EndMS: 1000, Text: "hi"}}, "timing"},
		{"too long", []Cue{{StartMS: 0, EndMS: 7001, Text: "hi"}}, "max_duration"},
		{"too short with room after", []Cue{{StartMS: 0, EndMS: 900, Text: "hi"}}, "reading_time"},
		{"too fast with room after", []Cue{{StartMS: 0, EndMS: 2000, Text: strings.Repeat("abcde ", 7)}, {StartMS: 5000, EndMS: 6000, Text: "ok"}}, "reading_time"},
		{"overlap", []Cue{{StartMS: 0, EndMS: 2000, Text: "one"}, {StartMS: 1500, EndMS: 3000, Text: "two"}}, "overlap"},
		{"order", []Cue{{StartMS: 5000, EndMS: 6000, Text: "one"}, {StartMS: 1000, EndMS: 3000, Text: "two"}}, "order"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := CheckCues(tc.cues, DefaultRules())
			found := false
			for _, x := range v {
				found = found || x.Rule == tc.rule
			}
			if !found {
				t.Errorf("want a %q violation, got %v", tc.rule, v)
			}
		})
	}
	// A short cue is fine when the next cue follows immediately: the speaker
	// left no time to extend it.
	packed := []Cue{{StartMS: 0, EndMS: 400, Text: "Right."}, {StartMS: 400, EndMS: 1500, Text: "Next one"}}
	if v := CheckCues(packed, DefaultRules()); len(v) != 0 {
		t.Errorf("packed cues: %v", v)
	}
}

// assertWordsKept checks every word appears in the cues, in order.
func assertWordsKept(t *testing.T, words []Word, cues []Cue) {
	t.Helper()
	var want, got []string
	for _, w := range words {
		want = append(want, strings.Fields(cleanWordText(w.Text))...)
	}
	for _, c := range cues {
		got = append(got, strings.Fields(PlainText(c.Text))...)
	}
	if strings.Join(got, " ") != strings.Join(splitAll(want), " ") {
		t.Fatalf("words lost or reordered:\n got %q\nwant %q", got, want)
	}
}

// splitAll mirrors BuildCues cutting words longer than a line.
func splitAll(ws []string) []string {
	var out []string
	for _, w := range ws {
		out = append(out, splitWordText(w, DefaultRules().MaxLineChars)...)
	}
	return out
}

// wordsFromBytes derives a random but reproducible word stream from fuzz
// input: times may overlap, go backwards, or be absurdly long; texts may be
// empty, huge, or full of markup.
func wordsFromBytes(data []byte) []Word {
	seed := uint64(len(data))
	if len(data) >= 8 {
		seed = binary.LittleEndian.Uint64(data)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	n := r.IntN(300)
	vocab := []string{"a", "the", "fraction", "denominator,", "Yes.", "OK?", "Q&A", "<b>", "-->", "",
		"supercalifragilisticexpialidocious-and-more-and-more", "naïve", "日本語", "x\ny", " spaced  out "}
	var words []Word
	t := int64(r.IntN(10000))
	for range n {
		w := vocab[r.IntN(len(vocab))]
		if r.IntN(20) == 0 && len(data) > 8 {
			w = string(data[8:][:r.IntN(len(data)-8)])
		}
		start := t + int64(r.IntN(1500)) - 200
		dur := int64(r.IntN(900))
		if r.IntN(50) == 0 {
			dur = int64(r.IntN(20000))
		}
		words = append(words, Word{StartMS: start, EndMS: start + dur, Text: w})
		t = start + dur
	}
	return words
}

// FuzzBuildCues: whatever the engine returns, every produced cue passes
// CheckCues and every word survives, in order.
func FuzzBuildCues(f *testing.F) {
	f.Add([]byte("seed0000"))
	f.Add([]byte("12345678 some text"))
	f.Add([]byte{0xff, 0xfe, 0, 0, 1, 2, 3, 4, '<', 'i', '>'})
	f.Fuzz(func(t *testing.T, data []byte) {
		words := wordsFromBytes(data)
		cues := BuildCues(words)
		if v := CheckCues(cues, DefaultRules()); len(v) > 0 {
			t.Fatalf("%d violations, first: %v\ncues: %+v", len(v), v[0], cues)
		}
		assertWordsKept(t, sortedWords(words), cues)
	})
}

func sortedWords(ws []Word) []Word {
	out := append([]Word(nil), ws...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].StartMS < out[j-1].StartMS; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestBuildCuesRandomStreams runs the fuzz property over many seeds in a
// normal test run.
func TestBuildCuesRandomStreams(t *testing.T) {
	t.Parallel()
	for seed := range 300 {
		data := make([]byte, 16)
		binary.LittleEndian.PutUint64(data, uint64(seed))
		words := wordsFromBytes(data)
		cues := BuildCues(words)
		if v := CheckCues(cues, DefaultRules()); len(v) > 0 {
			t.Fatalf("seed %d: %d violations, first: %v", seed, len(v), v[0])
		}
		assertWordsKept(t, sortedWords(words), cues)
	}
}
