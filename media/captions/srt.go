package captions

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseSRT reads a SubRip (.srt) file and converts it to WebVTT cues, so an
// uploaded SRT track is stored and served like any other. SRT has no formal
// spec; the parser accepts what common tools write (missing cue numbers,
// "." instead of ",", short fractions, position coordinates after the
// times, <b>/<i>/<u> and <font> tags, {\an8} style codes) and reports
// anything else with its line number, as [ParseVTT] does.
func ParseSRT(r io.Reader, opts ParseOptions) (*Track, error) {
	data, err := readLimited(r, opts.maxBytes())
	if err != nil {
		return nil, fmt.Errorf("parse SRT: %w", err)
	}
	text, err := decodeText(data, opts.StrictUTF8)
	if err != nil {
		return nil, fmt.Errorf("parse SRT: %w", err)
	}
	return parseSRTText(text)
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

func parseSRTText(text string) (*Track, error) {
	lines := strings.Split(text, "\n")
	var probs problems
	t := &Track{Cues: []Cue{}}
	// cueStartsAt reports whether a cue begins at line i: a timing line, or a
	// number followed by a timing line. It lets a cue follow the previous one
	// without a blank line, which hand-edited files often do.
	cueStartsAt := func(i int) (id string, timing int, ok bool) {
		l := strings.TrimSpace(lines[i])
		if _, _, ok := parseSRTTiming(l); ok {
			return "", i, true
		}
		if allDigits(l) && l != "" && i+1 < len(lines) {
			if _, _, ok := parseSRTTiming(strings.TrimSpace(lines[i+1])); ok {
				return l, i + 1, true
			}
		}
		return "", 0, false
	}
	i := 0
	for i < len(lines) {
		if isBlank(lines[i]) {
			i++
			continue
		}
		id, ti, ok := cueStartsAt(i)
		if !ok {
			l := strings.TrimSpace(lines[i])
			if strings.Contains(l, "-->") {
				probs.add(i+1, "invalid timing line %q: want 00:00:01,000 --> 00:00:04,000", clip(l, 60))
			} else {
				probs.add(i+1, "unexpected text %q: expected a cue number followed by a timing line like 00:00:01,000 --> 00:00:04,000", clip(l, 40))
			}
			for i < len(lines) && !isBlank(lines[i]) {
				i++
			}
			continue
		}
		start, end, _ := parseSRTTiming(strings.TrimSpace(lines[ti]))
		i = ti + 1
		var payload []string
		for i < len(lines) && !isBlank(lines[i]) {
			if _, _, next := cueStartsAt(i); next {
				break
			}
			payload = append(payload, strings.TrimRight(lines[i], " \t"))
			i++
		}
		if !timesOK(&probs, ti+1, start, end) {
			continue
		}
		t.Cues = append(t.Cues, Cue{ID: id, StartMS: start, EndMS: end, Text: srtPayload(payload)})
	}
	return t, probs.err()
}

// srtPayload converts SRT text lines to WebVTT cue text, dropping lines
// that only held style codes.
func srtPayload(lines []string) string {
	out := lines[:0]
	for _, l := range lines {
		if v := strings.TrimRight(srtToVTTText(l), " \t"); !isBlank(v) {
			out = append(out, v)
		}
	}
	return strings.Join(out, "\n")
}

// parseSRTTiming parses "00:00:01,000 --> 00:00:04,000 [X1:.. coordinates]".
// Markup the conversion drops (<font>, {\an8}) is removed first, so a line
// is a timing line exactly when it would read as one once written back.
func parseSRTTiming(l string) (start, end int64, ok bool) {
	if !strings.Contains(l, "-->") {
		return 0, 0, false
	}
	l = strings.TrimSpace(vttToSRTText(srtToVTTText(l)))
	a, b, found := strings.Cut(l, "-->")
	if !found {
		return 0, 0, false
	}
	a = strings.TrimSpace(a)
	b = strings.TrimSpace(b)
	if k := strings.IndexAny(b, " \t"); k >= 0 {
		b = b[:k] // position coordinates are ignored
	}
	if start, ok = parseSRTTimestamp(a); !ok {
		return 0, 0, false
	}
	if end, ok = parseSRTTimestamp(b); !ok {
		return 0, 0, false
	}
	return start, end, true
}

// parseSRTTimestamp parses hh:mm:ss,mmm leniently (one or more hour digits,
// one or two minute and second digits, "," or "." then one to three digits).
func parseSRTTimestamp(s string) (int64, bool) {
	hms, frac, ok := strings.Cut(s, ",")
	if !ok {
		hms, frac, ok = strings.Cut(s, ".")
	}
	if !ok || frac == "" || len(frac) > 3 || !allDigits(frac) {
		return 0, false
	}
	parts := strings.Split(hms, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var v [3]int64
	for k, p := range parts {
		if p == "" || !allDigits(p) || (k > 0 && len(p) > 2) || len(p) > 9 {
			return 0, false
		}
		v[k], _ = strconv.ParseInt(p, 10, 64)
	}
	if v[1] > 59 || v[2] > 59 {
		return 0, false
	}
	for len(frac) < 3 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return ((v[0]*60+v[1])*60+v[2])*1000 + f, true
}

// srtToVTTText converts SRT cue text to WebVTT cue text: <b>, <i> and <u>
// are kept, other tags (<font>) and {\...} style codes are dropped, and
// "&", "<" and ">" that are text are escaped.
func srtToVTTText(s string) string {
	return convertSRTText(dropSRTStyling(s))
}

// dropSRTStyling removes <font> tags and {\...} style codes until none is
// left. One pass is not enough: removing "{\x}" from "<{\x}font>" leaves a
// <font> tag, and text that read as literal "<font>" here would be written
// to SRT as a tag another reader drops. The result is a fixpoint, so SRT
// written from the converted cues parses back to the same text. It runs in
// linear time: each byte is appended and removed at most once.
func dropSRTStyling(s string) string {
	if !strings.ContainsAny(s, "<{") {
		return s
	}
	out := make([]byte, 0, len(s))
	var lt, gt, brace []int // positions in out of '<', '>' and "{\" starts
	truncate := func(n int) {
		out = out[:n]
		for _, st := range []*[]int{&lt, &gt, &brace} {
			k := len(*st)
			for k > 0 && (*st)[k-1] >= n {
				k--
			}
			*st = (*st)[:k]
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '>':
			// Only the last '<' can open a tag ending here, and only if no
			// '>' came after it.
			if n := len(lt); n > 0 && (len(gt) == 0 || gt[len(gt)-1] < lt[n-1]) {
				// Longer runs are text (srtTag says so too); the bound keeps
				// the work per '>' constant.
				if start := lt[n-1]; len(out)-start <= maxSRTTagLen {
					if tag, m := srtTag(string(out[start:]) + ">"); m > 0 && tag == "" {
						truncate(start)
						continue
					}
				}
			}
			gt = append(gt, len(out))
		case '}':
			// Every "{\" still open has no '}' after it; the first one
			// starts the code this brace closes.
			if len(brace) > 0 {
				truncate(brace[0])
				continue
			}
		case '<':
			lt = append(lt, len(out))
		case '\\':
			if n := len(out); n > 0 && out[n-1] == '{' {
				brace = append(brace, n-1)
			}
		case '\n':
			// Tags and codes do not span lines.
			lt, gt, brace = lt[:0], gt[:0], brace[:0]
		}
		out = append(out, c)
	}
	return string(out)
}

// convertSRTText escapes and converts SRT text that holds no droppable
// styling (see dropSRTStyling).
func convertSRTText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			if tag, n := srtTag(s[i:]); n > 0 {
				b.WriteString(tag)
				i += n
				continue
			}
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '{':
			if strings.HasPrefix(s[i:], `{\`) {
				if end := strings.IndexByte(s[i:], '}'); end > 0 && !strings.Contains(s[i:i+end], "\n") {
					i += end + 1
					continue
				}
			}
			b.WriteByte('{')
		default:
			b.WriteByte(s[i])
		}
		i++
	}
	return b.String()
}

// maxSRTTagLen is the longest "<...>" read as a tag; longer runs are text.
// Real <font color=...> tags are far shorter.
const maxSRTTagLen = 200

// srtTag recognizes an SRT formatting tag at the start of s. It returns the
// WebVTT form ("" for tags WebVTT lacks, such as <font>) and its length, or
// n == 0 when the '<' is text.
func srtTag(s string) (string, int) {
	end := strings.IndexByte(s, '>')
	if end < 0 || end > maxSRTTagLen || strings.ContainsAny(s[1:end], "<\n") {
		return "", 0
	}
	inner := strings.ToLower(strings.TrimSpace(s[1:end]))
	switch inner {
	case "b", "i", "u", "/b", "/i", "/u":
		return "<" + inner + ">", end + 1
	case "/font":
		return "", end + 1
	}
	if strings.HasPrefix(inner, "font ") || inner == "font" {
		return "", end + 1
	}
	return "", 0
}

// vttToSRTText converts WebVTT cue text to SRT text: <b>, <i> and <u> stay,
// other tags are dropped, character references are decoded.
func vttToSRTText(payload string) string {
	var b strings.Builder
	for i := 0; i < len(payload); {
		switch payload[i] {
		case '<':
			end := strings.IndexByte(payload[i:], '>')
			if end < 0 {
				return b.String()
			}
			inner := payload[i+1 : i+end]
			name := inner
			if k := strings.IndexAny(name, " \t.\n"); k >= 0 {
				name = name[:k]
			}
			switch name {
			case "b", "i", "u", "/b", "/i", "/u":
				b.WriteString("<" + name + ">")
			}
			i += end + 1
		case '&':
			if r, n := decodeEntity(payload[i:]); n > 0 {
				b.WriteString(r)
				i += n
				continue
			}
			b.WriteByte('&')
			i++
		default:
			b.WriteByte(payload[i])
			i++
		}
	}
	return b.String()
}

// WriteSRT writes cues as a SubRip file, numbered from 1, for people who
// take captions into a video editor.
func WriteSRT(w io.Writer, cues []Cue) error {
	bw := bufio.NewWriter(w)
	n := 0
	for _, c := range cues {
		n++
		fmt.Fprintf(bw, "%d\n%s --> %s\n", n, formatTS(c.StartMS, ','), formatTS(c.EndMS, ','))
		var kept []string
		for _, l := range strings.Split(vttToSRTText(c.Text), "\n") {
			if !isBlank(l) {
				kept = append(kept, l)
			}
		}
		if len(kept) > 0 {
			bw.WriteString(strings.Join(kept, "\n"))
			bw.WriteByte('\n')
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write SRT: %w", err)
	}
	return nil
}
