package captions

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func parseVTTFile(t *testing.T, name string) (*Track, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ParseVTT(f, ParseOptions{})
}

func TestParseVTTLesson(t *testing.T) {
	t.Parallel()
	tr, err := parseVTTFile(t, "lesson.vtt")
	if err != nil {
		t.Fatal(err)
	}
	want := &Track{
		Header: " - Fractions lesson\nKind: captions\nLanguage: en",
		Blocks: []string{"STYLE\n::cue { color: yellow }"},
		Cues: []Cue{
			{ID: "intro", StartMS: 1000, EndMS: 4000, Settings: "line:90% align:center", Text: "<v Teacher>Good morning, everyone.\nOpen your books to page 12."},
			{StartMS: 4500, EndMS: 7250, Text: "Who remembers what a <i>denominator</i> is?"},
			{ID: "3", StartMS: 7250, EndMS: 9000, Text: "Q&amp;A time &lt;3"},
		},
	}
	if !reflect.DeepEqual(tr, want) {
		t.Fatalf("got  %#v\nwant %#v", tr, want)
	}
	if got := PlainText(tr.Cues[2].Text); got != "Q&A time <3" {
		t.Errorf("PlainText = %q", got)
	}
	if got := PlainText(tr.Cues[0].Text); got != "Good morning, everyone.\nOpen your books to page 12." {
		t.Errorf("PlainText = %q", got)
	}
	// Written and parsed again, nothing changes.
	var buf bytes.Buffer
	if err := WriteVTT(&buf, tr); err != nil {
		t.Fatal(err)
	}
	again, err := ParseVTT(&buf, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, tr) {
		t.Fatalf("round trip changed the track:\n%#v\n%#v", again, tr)
	}
}

func TestParseVTTErrorsNameLines(t *testing.T) {
	t.Parallel()
	tr, err := parseVTTFile(t, "errors.vtt")
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidCaptions) {
		t.Fatalf("err = %v, want *ParseError", err)
	}
	want := []string{
		"line 6: cue end 00:00:03.000 is before start 00:00:04.000",
		`line 9: invalid cue start "00:00:3.000": want hh:mm:ss.ttt or mm:ss.ttt`,
		`line 12: unexpected text "stray text without timing": expected a cue timing line like 00:00:01.000 --> 00:00:04.000`,
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(tr.Cues) != 2 || PlainText(tr.Cues[1].Text) != "fine too" {
		t.Errorf("valid cues not kept: %+v", tr.Cues)
	}
}

func TestParseVTTTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		cues    int
		wantErr string
	}{
		{"no signature", "00:00:01.000 --> 00:00:02.000\nhi\n", 0, "line 1: missing the WEBVTT signature"},
		{"signature glued to text", "WEBVTTX\n", 0, "line 1: missing the WEBVTT signature"},
		{"empty file", "", 0, "line 1: missing the WEBVTT signature"},
		{"only header", "WEBVTT\n", 0, ""},
		{"BOM and CRLF", "\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nhi\r\n", 1, ""},
		{"hours with three digits", "WEBVTT\n\n100:00:01.000 --> 100:00:02.000\nlong\n", 1, ""},
		{"cue without blank line between", "WEBVTT\n\n00:01.000 --> 00:02.000\na\n00:02.000 --> 00:03.000\nb\n", 2, ""},
		{"equal start and end", "WEBVTT\n\n00:01.000 --> 00:01.000\na\n", 0, "line 3: cue end 00:00:01.000 equals its start"},
		{"minutes over 59", "WEBVTT\n\n00:61.000 --> 01:02.000\na\n", 0, `line 3: invalid cue start "00:61.000"`},
		{"missing end", "WEBVTT\n\n00:01.000 -->\na\n", 0, `line 3: invalid cue end ""`},
		{"comma instead of dot", "WEBVTT\n\n00:00:01,000 --> 00:00:02,000\na\n", 0, `line 3: invalid cue start "00:00:01,000"`},
		{"note with arrow text is a cue id", "WEBVTT\n\nNOTE\n00:01.000 --> 00:02.000\na\n", 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr, err := ParseVTT(strings.NewReader(tc.in), ParseOptions{})
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err = %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			n := 0
			if tr != nil {
				n = len(tr.Cues)
			}
			if n != tc.cues {
				t.Errorf("%d cues, want %d", n, tc.cues)
			}
		})
	}
}

// endlessReader yields caption-looking bytes forever; a size check that
// read everything first would never return.
type endlessReader struct{ read int64 }

func (e *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "WEBVTT\n\n"[int(e.read+int64(i))%8]
	}
	e.read += int64(len(p))
	return len(p), nil
}

func TestCaptionSizeLimit(t *testing.T) {
	t.Parallel()
	r := &endlessReader{}
	_, err := ParseVTT(r, ParseOptions{})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "5 MB limit") {
		t.Fatalf("err = %v, want ErrTooLarge mentioning the 5 MB limit", err)
	}
	if r.read > DefaultMaxCaptionBytes+64<<10 {
		t.Errorf("read %d bytes before rejecting, want about the 5 MB limit", r.read)
	}
	// A 50 MB upload is rejected having read only the configured maximum.
	r = &endlessReader{}
	_, err = ParseSRT(io.LimitReader(r, 50<<20), ParseOptions{MaxBytes: 1 << 20})
	if !errors.Is(err, ErrTooLarge) || r.read > 1<<20+64<<10 {
		t.Fatalf("err = %v after reading %d bytes", err, r.read)
	}
	// Exactly at the limit is fine.
	in := "WEBVTT\n\n" + strings.Repeat("x", 100-8)
	if _, err := ParseVTT(strings.NewReader(in), ParseOptions{MaxBytes: 100}); errors.Is(err, ErrTooLarge) {
		t.Fatal("a file exactly at the limit was rejected")
	}
}

func TestParseSRT(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/lesson.srt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := ParseSRT(f, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Cue{
		{ID: "1", StartMS: 1000, EndMS: 4000, Text: "<b>Good morning</b>, everyone.\nOpen your books."},
		{ID: "2", StartMS: 4500, EndMS: 7250, Text: "Who remembers a <i>denominator</i>?"},
		{ID: "3", StartMS: 7250, EndMS: 9500, Text: "Q&amp;A time &lt;3"},
		{ID: "4", StartMS: 10000, EndMS: 11000, Text: "no blank line before this one"},
	}
	if !reflect.DeepEqual(tr.Cues, want) {
		t.Fatalf("got  %#v\nwant %#v", tr.Cues, want)
	}
	// SRT → WebVTT → parse: the same cues.
	vtt := VTT(tr.Cues)
	back, err := ParseVTT(bytes.NewReader(vtt), ParseOptions{})
	if err != nil {
		t.Fatalf("converted file does not parse: %v\n%s", err, vtt)
	}
	if !reflect.DeepEqual(back.Cues, want) {
		t.Fatalf("converted cues differ: %#v", back.Cues)
	}
}

// TestSRTStylingFixpoint: styling that only forms once other styling is
// removed is removed too, so written SRT reads back as the same text.
func TestSRTStylingFixpoint(t *testing.T) {
	t.Parallel()
	long := "<" + strings.Repeat("a", maxSRTTagLen) + ">"
	for _, tc := range []struct{ in, want string }{
		{"<font color=red>x</font>", "x"},
		{"<{\\x}font>hi", "hi"},
		{"<<font>font>hi", "hi"},
		{"{{\\x}\\y}hi", "hi"},
		{"<b{\\x}>hi</b>", "<b>hi</b>"},
		{"<fo{\\x}nt>hi", "hi"},
		{"a < b > c", "a <b> c"}, // srtTag reads "< b >" as <b>
		{"1 < 2, 3 > 2", "1 &lt; 2, 3 &gt; 2"},
		{"<a<font>b", "&lt;ab"},
		{long, "&lt;" + strings.Repeat("a", maxSRTTagLen) + "&gt;"},
		{"<" + strings.Repeat("a", 50) + strings.Repeat("{\\>}", 50), "&lt;" + strings.Repeat("a", 50)},
	} {
		got := srtToVTTText(tc.in)
		if got != tc.want {
			t.Errorf("srtToVTTText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := srtToVTTText(vttToSRTText(got)); again != got {
			t.Errorf("%q: written as SRT and read back: %q, want %q", tc.in, again, got)
		}
	}
}

func TestParseSRTEncodings(t *testing.T) {
	t.Parallel()
	latin1, err := os.ReadFile("testdata/latin1.srt")
	if err != nil {
		t.Fatal(err)
	}
	utf16le := []byte{0xFF, 0xFE}
	for _, r := range "1\n00:00:01,000 --> 00:00:02,000\nCafé crème\n" {
		utf16le = append(utf16le, byte(r), byte(r>>8))
	}
	for name, data := range map[string][]byte{"windows-1252": latin1, "utf-16le": utf16le} {
		tr, err := ParseSRT(bytes.NewReader(data), ParseOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(tr.Cues) != 1 || tr.Cues[0].Text != "Café crème" {
			t.Errorf("%s: cues %#v", name, tr.Cues)
		}
	}
}

func TestParseSRTErrors(t *testing.T) {
	t.Parallel()
	in := "1\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n2\n00:00:06;000 --> 00:00:07,000\nbad separator\n\nhello\n"
	tr, err := ParseSRT(strings.NewReader(in), ParseOptions{})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		"line 2: cue end 00:00:04.000 is before start 00:00:05.000",
		`line 5: unexpected text "2": expected a cue number followed by a timing line like 00:00:01,000 --> 00:00:04,000`,
		`line 9: unexpected text "hello": expected a cue number followed by a timing line like 00:00:01,000 --> 00:00:04,000`,
	}
	var got []string
	for _, p := range pe.Problems {
		got = append(got, p.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(tr.Cues) != 0 {
		t.Errorf("cues: %+v", tr.Cues)
	}
}

func TestWriteSRT(t *testing.T) {
	t.Parallel()
	cues := []Cue{
		{StartMS: 3723004, EndMS: 3724000, Text: "<v Teacher>Q&amp;A <i>now</i>\n<c.yellow>second</c> line"},
	}
	var buf bytes.Buffer
	if err := WriteSRT(&buf, cues); err != nil {
		t.Fatal(err)
	}
	want := "1\n01:02:03,004 --> 01:02:04,000\nQ&A <i>now</i>\nsecond line\n\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestLintAndNormalize(t *testing.T) {
	t.Parallel()
	cues := []Cue{
		{StartMS: 5000, EndMS: 7000, Text: "c"},
		{StartMS: 1000, EndMS: 3500, Text: "a"},
		{StartMS: 3000, EndMS: 4000, Text: "b"},
		{StartMS: 3000, EndMS: 4500, Text: "b2"},
		{StartMS: 8000, EndMS: 8000, Text: "zero"},
	}
	issues := Lint(cues)
	kinds := []string{}
	for _, is := range issues {
		kinds = append(kinds, is.Kind)
	}
	if !reflect.DeepEqual(kinds, []string{"out_of_order", "overlap", "overlap"}) {
		t.Errorf("issues = %+v", issues)
	}
	got := Normalize(cues)
	want := []Cue{
		{StartMS: 1000, EndMS: 3000, Text: "a"},
		{StartMS: 3000, EndMS: 4500, Text: "b\nb2"},
		{StartMS: 5000, EndMS: 7000, Text: "c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Normalize = %+v", got)
	}
	if l := Lint(got); len(l) != 0 {
		t.Errorf("after Normalize: %+v", l)
	}
	if cues[0].StartMS != 5000 {
		t.Error("Normalize modified its input")
	}
}

func seedCorpus(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseVTT: no input makes the parser panic, and whatever it accepts
// is written back and parsed again to the same track, without errors.
func FuzzParseVTT(f *testing.F) {
	seedCorpus(f, "*.vtt")
	f.Add([]byte("WEBVTT\n\n00:00.000 --> 00:01.000\n<b>&amp;</b>\n\nNOTE x\n\nid\n01:00:00.000 --> 01:00:00.001 a:b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, _ := ParseVTT(bytes.NewReader(data), ParseOptions{MaxBytes: 1 << 20})
		if tr == nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteVTT(&buf, tr); err != nil {
			t.Fatal(err)
		}
		again, err := ParseVTT(bytes.NewReader(buf.Bytes()), ParseOptions{MaxBytes: 4 << 20})
		if err != nil {
			t.Fatalf("written track does not parse: %v\n%q", err, buf.String())
		}
		if !reflect.DeepEqual(again.Cues, tr.Cues) {
			t.Fatalf("round trip changed cues:\n%#v\n%#v\n%q", tr.Cues, again.Cues, buf.String())
		}
		_ = Lint(tr.Cues)
		_ = Normalize(tr.Cues)
		_ = CheckCues(tr.Cues, DefaultRules())
		_ = WordsFromCues(tr.Cues)
	})
}

// FuzzParseSRT: no panic; accepted cues convert to WebVTT that parses back
// to the same cues, and SRT written from them parses back too.
func FuzzParseSRT(f *testing.F) {
	seedCorpus(f, "*.srt")
	f.Add([]byte("1\n00:00:00,000 --> 00:00:01,000\n<font color=red>x</font> {\\an8}&<>\n"))
	// Styling that only forms once other styling is removed.
	f.Add([]byte("1\n00:00:00,000 --> 00:00:00,010\n<{\\x}font>\n\n2\n00:00:01,000 --> 00:00:02,000\n<<font>font>{{\\x}\\y}<b{\\x}>a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, _ := ParseSRT(bytes.NewReader(data), ParseOptions{MaxBytes: 1 << 20})
		if tr == nil {
			return
		}
		back, err := ParseVTT(bytes.NewReader(VTT(tr.Cues)), ParseOptions{MaxBytes: 4 << 20})
		if err != nil {
			t.Fatalf("converted track does not parse: %v", err)
		}
		if !reflect.DeepEqual(back.Cues, tr.Cues) {
			t.Fatalf("conversion changed cues:\n%#v\n%#v", tr.Cues, back.Cues)
		}
		var buf bytes.Buffer
		if err := WriteSRT(&buf, tr.Cues); err != nil {
			t.Fatal(err)
		}
		srt, err := ParseSRT(&buf, ParseOptions{MaxBytes: 4 << 20})
		if err != nil {
			t.Fatalf("written SRT does not parse: %v\n%q", err, buf.String())
		}
		if len(srt.Cues) != len(tr.Cues) {
			t.Fatalf("written SRT has %d cues, want %d", len(srt.Cues), len(tr.Cues))
		}
		for i := range srt.Cues {
			a, b := srt.Cues[i], tr.Cues[i]
			if a.StartMS != b.StartMS || a.EndMS != b.EndMS || PlainText(a.Text) != PlainText(b.Text) {
				t.Fatalf("cue %d changed: %#v → %#v", i, b, a)
			}
		}
	})
}

func TestParseCaptionsSniffsFormat(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"lesson.vtt", "lesson.srt", "latin1.srt", "crlf.vtt"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := ParseCaptions(bytes.NewReader(data), ParseOptions{})
		if err != nil || len(tr.Cues) == 0 {
			t.Errorf("%s: %v, %d cues", name, err, len(tr.Cues))
		}
	}
	if _, err := ParseCaptions(strings.NewReader("just some text\n"), ParseOptions{}); !errors.Is(err, ErrInvalidCaptions) {
		t.Errorf("plain text: err = %v", err)
	}
}
