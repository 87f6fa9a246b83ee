package captions

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxCaptionBytes is the upload limit for caption files when
// [ParseOptions.MaxBytes] is zero. A three-hour lesson captioned densely is
// well under 1 MB.
const DefaultMaxCaptionBytes = 5 << 20

// ErrTooLarge is returned (wrapped) when an input exceeds its size limit; the
// limit is checked before the input is parsed.
var ErrTooLarge = errors.New("captions: file too large")

// ErrInvalidCaptions is matched (errors.Is) by every [*ParseError].
var ErrInvalidCaptions = errors.New("captions: invalid caption file")

// maxProblems bounds how many problems a [ParseError] lists; a binary file
// uploaded by mistake would otherwise produce one per line.
const maxProblems = 50

// ParseOptions tune [ParseVTT] and [ParseSRT].
type ParseOptions struct {
	// MaxBytes rejects larger inputs; zero means DefaultMaxCaptionBytes.
	MaxBytes int64
	// StrictUTF8 refuses a file without a UTF-16 byte order mark that is
	// not valid UTF-8 (ErrNotUTF8) instead of reading it as Windows-1252,
	// for uploads, where guessing would store mojibake silently.
	StrictUTF8 bool
}

// ErrNotUTF8 reports a caption file that is not UTF-8 text (StrictUTF8).
var ErrNotUTF8 = errors.New("the caption file is not UTF-8 text")

func (o ParseOptions) maxBytes() int64 {
	if o.MaxBytes <= 0 {
		return DefaultMaxCaptionBytes
	}
	return o.MaxBytes
}

// Track is a parsed caption file.
type Track struct {
	// Header is the text after "WEBVTT" on the first line plus any header
	// lines after it, kept so a file is written back as it came.
	Header string `json:"header,omitempty"`
	// Blocks are STYLE and REGION blocks, verbatim.
	Blocks []string `json:"blocks,omitempty"`
	Cues   []Cue    `json:"cues"`
}

// LineError is one problem in a caption file, located by line.
type LineError struct {
	Line int    `json:"line"`
	Msg  string `json:"message"`
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ParseError lists the problems found in a caption file. The parser keeps
// going after a bad cue so that a person fixing a file sees every problem at
// once; the [Track] returned alongside holds the cues that were valid.
type ParseError struct {
	Problems []LineError `json:"problems"`
	// Omitted counts problems beyond the first maxProblems.
	Omitted int `json:"omitted,omitempty"`
}

func (e *ParseError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-3+e.Omitted)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap lets errors.Is(err, ErrInvalidCaptions) recognize parse errors.
func (e *ParseError) Unwrap() error { return ErrInvalidCaptions }

type problems struct{ e ParseError }

func (p *problems) add(line int, format string, args ...any) {
	if len(p.e.Problems) >= maxProblems {
		p.e.Omitted++
		return
	}
	p.e.Problems = append(p.e.Problems, LineError{Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.e.Problems) == 0 {
		return nil
	}
	e := p.e
	return &e
}

// ParseVTT reads a WebVTT file. Inputs over the size limit fail with
// [ErrTooLarge] before parsing. Problems (bad timestamps, an end before its
// start, stray text) come back as one [*ParseError] naming each line, with a
// Track of the cues that were fine; a file without the WEBVTT signature
// returns a nil Track.
func ParseVTT(r io.Reader, opts ParseOptions) (*Track, error) {
	data, err := readLimited(r, opts.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("parse WebVTT: %w", err)
	}
	text, err := decodeText(data, opts.StrictUTF8)
	if err != nil {
		return nil, fmt.Errorf("parse WebVTT: %w", err)
	}
	return parseVTTText(text)
}

func parseVTTText(text string) (*Track, error) {
	lines := strings.Split(text, "\n")
	var probs problems
	first := lines[0]
	if !strings.HasPrefix(first, "WEBVTT") || (len(first) > 6 && first[6] != ' ' && first[6] != '\t') {
		probs.add(1, "missing the WEBVTT signature: the first line must be \"WEBVTT\"")
		return nil, probs.err()
	}
	t := &Track{Cues: []Cue{}}
	i := 1
	for i < len(lines) && lines[i] != "" && !strings.Contains(lines[i], "-->") {
		i++
	}
	t.Header = strings.Join(lines[:i], "\n")[6:]
	seenCue := false
	for i < len(lines) {
		if lines[i] == "" {
			i++
			continue
		}
		start := i
		var block []string
		seenArrow := false
		for i < len(lines) && lines[i] != "" {
			if strings.Contains(lines[i], "-->") {
				// A second timing line, or one after two text lines,
				// starts the next block even without a blank line.
				if seenArrow || len(block) >= 2 {
					break
				}
				seenArrow = true
			}
			block = append(block, lines[i])
			i++
		}
		switch {
		case strings.Contains(block[0], "-->"):
			if c, ok := parseVTTCue(&probs, start+1, "", block[0], block[1:]); ok {
				t.Cues = append(t.Cues, c)
			}
			seenCue = true
		case len(block) > 1 && strings.Contains(block[1], "-->"):
			if c, ok := parseVTTCue(&probs, start+2, block[0], block[1], block[2:]); ok {
				t.Cues = append(t.Cues, c)
			}
			seenCue = true
		case isKeywordLine(block[0], "NOTE"):
			// Comments are dropped.
		case !seenCue && (isKeywordLine(block[0], "STYLE") || isKeywordLine(block[0], "REGION")):
			t.Blocks = append(t.Blocks, strings.Join(block, "\n"))
		default:
			probs.add(start+1, "unexpected text %q: expected a cue timing line like 00:00:01.000 --> 00:00:04.000", clip(block[0], 40))
		}
	}
	return t, probs.err()
}

func isKeywordLine(line, kw string) bool {
	if !strings.HasPrefix(line, kw) {
		return false
	}
	rest := line[len(kw):]
	return rest == "" || rest[0] == ' ' || rest[0] == '\t'
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// parseVTTCue parses a timing line ("start --> end settings") at line ln.
func parseVTTCue(p *problems, ln int, id, timing string, payload []string) (Cue, bool) {
	startStr, rest, _ := strings.Cut(timing, "-->")
	startStr = strings.Trim(startStr, " \t")
	rest = strings.TrimLeft(rest, " \t")
	endStr, settings := rest, ""
	if k := strings.IndexAny(rest, " \t"); k >= 0 {
		endStr, settings = rest[:k], strings.Trim(rest[k:], " \t")
	}
	start, ok := parseVTTTimestamp(startStr)
	if !ok {
		p.add(ln, "invalid cue start %q: want hh:mm:ss.ttt or mm:ss.ttt", clip(startStr, 30))
		return Cue{}, false
	}
	end, ok := parseVTTTimestamp(endStr)
	if !ok {
		p.add(ln, "invalid cue end %q: want hh:mm:ss.ttt or mm:ss.ttt", clip(endStr, 30))
		return Cue{}, false
	}
	if !timesOK(p, ln, start, end) {
		return Cue{}, false
	}
	return Cue{ID: id, StartMS: start, EndMS: end, Settings: settings, Text: strings.Join(payload, "\n")}, true
}

func timesOK(p *problems, ln int, start, end int64) bool {
	switch {
	case end < start:
		p.add(ln, "cue end %s is before start %s", FormatTimestamp(end), FormatTimestamp(start))
		return false
	case end == start:
		p.add(ln, "cue end %s equals its start: the cue would never show", FormatTimestamp(end))
		return false
	}
	return true
}

// WriteVTT writes t as a WebVTT file. Cue text is written as is: it must be
// WebVTT cue text (use [EscapeText] for plain text); blank lines and "-->"
// inside cue text or identifiers, which would corrupt the file, are repaired.
func WriteVTT(w io.Writer, t *Track) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("WEBVTT")
	if t != nil && t.Header != "" {
		first, more, _ := strings.Cut(t.Header, "\n")
		if first != "" && first[0] != ' ' && first[0] != '\t' {
			bw.WriteByte(' ')
		}
		bw.WriteString(first)
		if more = stripBlankLines(strings.ReplaceAll(more, "-->", "--&gt;")); more != "" {
			bw.WriteByte('\n')
			bw.WriteString(more)
		}
	}
	bw.WriteString("\n\n")
	if t != nil {
		for _, b := range t.Blocks {
			bw.WriteString(stripBlankLines(strings.ReplaceAll(b, "-->", "")))
			bw.WriteString("\n\n")
		}
		for _, c := range t.Cues {
			writeVTTCue(bw, c)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write WebVTT: %w", err)
	}
	return nil
}

func writeVTTCue(bw *bufio.Writer, c Cue) {
	if id := strings.ReplaceAll(strings.ReplaceAll(c.ID, "\n", " "), "-->", "->"); id != "" {
		bw.WriteString(id)
		bw.WriteByte('\n')
	}
	bw.WriteString(FormatTimestamp(c.StartMS))
	bw.WriteString(" --> ")
	bw.WriteString(FormatTimestamp(c.EndMS))
	if s := strings.TrimSpace(strings.ReplaceAll(c.Settings, "\n", " ")); s != "" {
		bw.WriteByte(' ')
		bw.WriteString(s)
	}
	bw.WriteByte('\n')
	if text := stripBlankLines(strings.ReplaceAll(c.Text, "-->", "--&gt;")); text != "" {
		bw.WriteString(text)
		bw.WriteByte('\n')
	}
	bw.WriteByte('\n')
}

// stripBlankLines drops empty lines, which would end a WebVTT block early.
func stripBlankLines(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	lines := strings.Split(s, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// VTT returns cues as WebVTT file bytes, the form players and storage want.
func VTT(cues []Cue) []byte {
	var buf bytes.Buffer
	_ = WriteVTT(&buf, &Track{Cues: cues}) // writing to a bytes.Buffer cannot fail
	return buf.Bytes()
}

// ParseCaptions reads an uploaded caption file in either format: WebVTT when
// it starts with the WEBVTT signature (after an optional byte order mark),
// SubRip otherwise. People rarely know which one they have, and file names
// lie.
func ParseCaptions(r io.Reader, opts ParseOptions) (*Track, error) {
	data, err := readLimited(r, opts.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("parse captions: %w", err)
	}
	text, err := decodeText(data, opts.StrictUTF8)
	if err != nil {
		return nil, fmt.Errorf("parse captions: %w", err)
	}
	if strings.HasPrefix(text, "WEBVTT") {
		return parseVTTText(text)
	}
	return parseSRTText(text)
}
