package captions

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestTranscriptRoundTrip(t *testing.T) {
	t.Parallel()
	tr := Transcript{Engine: "pocketsphinx", Language: "en", Words: []Word{
		{StartMS: 1500, EndMS: 1900, Text: "fractions", Confidence: 0.8},
		{StartMS: 1000, EndMS: 1400, Text: "Equivalent", Confidence: 0.9},
	}}
	var buf bytes.Buffer
	if err := EncodeTranscript(&buf, tr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"start_ms":1000`) {
		t.Errorf("JSON = %s", buf.String())
	}
	got, err := DecodeTranscript(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := Transcript{Version: 1, Engine: "pocketsphinx", Language: "en", Words: []Word{tr.Words[1], tr.Words[0]}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if tr.Words[0].StartMS != 1500 {
		t.Error("EncodeTranscript reordered its input")
	}
}

func TestDecodeTranscriptRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"future version": `{"version":9,"words":[]}`,
		"no version":     `{"words":[]}`,
		"backwards word": `{"version":1,"words":[{"start_ms":10,"end_ms":5,"text":"x"}]}`,
		"not JSON":       `WEBVTT`,
	}
	for name, in := range cases {
		if _, err := DecodeTranscript(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestTranscriptSearch(t *testing.T) {
	t.Parallel()
	tr := Transcript{Words: speak(0, "Turn to your partner. Now, turn to page twelve: équivalent fractions, don't forget Fractions!", 50, 50)}
	cases := []struct {
		q     string
		first []int
	}{
		{"turn to", []int{0, 5}},
		{"FRACTIONS", []int{10, 13}},
		{"equivalent", []int{9}},
		{"dont", []int{11}},
		{"fract", []int{10, 13}},
		{"partner now", []int{3}},
		{"", nil},
		{"...", nil},
		{"elephant", nil},
	}
	for _, tc := range cases {
		var got []int
		for _, m := range tr.Search(tc.q, 0) {
			got = append(got, m.First)
			if m.StartMS != tr.Words[m.First].StartMS || m.EndMS != tr.Words[m.Last].EndMS || m.Context == "" {
				t.Errorf("%q: bad match %+v", tc.q, m)
			}
		}
		if !reflect.DeepEqual(got, tc.first) {
			t.Errorf("Search(%q) = %v, want %v", tc.q, got, tc.first)
		}
	}
	if n := len(tr.Search("turn", 1)); n != 1 {
		t.Errorf("limit 1 gave %d matches", n)
	}
}

func TestTranscriptWordAtAndText(t *testing.T) {
	t.Parallel()
	tr := Transcript{Words: []Word{{StartMS: 100, EndMS: 200, Text: "a"}, {StartMS: 500, EndMS: 700, Text: "b"}}}
	for ms, want := range map[int64]int{0: 0, 150: 0, 200: 1, 600: 1, 700: -1} {
		if got := tr.WordAt(ms); got != want {
			t.Errorf("WordAt(%d) = %d, want %d", ms, got, want)
		}
	}
	if tr.Text() != "a b" {
		t.Errorf("Text = %q", tr.Text())
	}
}

func TestWordsFromCues(t *testing.T) {
	t.Parallel()
	// The voice tag is markup, not words; time is shared by word length.
	words := WordsFromCues([]Cue{
		{StartMS: 1000, EndMS: 2000, Text: "<v Ms. Lee>Hi all</v>"},
		{StartMS: 3000, EndMS: 3000, Text: "zero length"},
	})
	want := []Word{
		{StartMS: 1000, EndMS: 1428, Text: "Hi", Confidence: 1},
		{StartMS: 1428, EndMS: 2000, Text: "all", Confidence: 1},
	}
	if !reflect.DeepEqual(words, want) {
		t.Fatalf("words = %+v, want %+v", words, want)
	}
}
