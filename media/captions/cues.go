package captions

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cue is one caption cue. Text is the cue payload in WebVTT cue-text syntax
// (lines separated by "\n", "&amp;" and "&lt;" escaped, optional <i>, <b>,
// <v Speaker> tags), so a parsed file is written back unchanged; use
// [PlainText] for what a viewer reads.
type Cue struct {
	ID       string `json:"id,omitempty"`
	StartMS  int64  `json:"start_ms"`
	EndMS    int64  `json:"end_ms"`
	Settings string `json:"settings,omitempty"`
	Text     string `json:"text"`
}

// Rules are the readability rules for generated captions. They follow common
// broadcast guidance (two lines of 42 characters, 1–7 s on screen, about 17
// characters per second for adult readers).
type Rules struct {
	MaxLines      int
	MaxLineChars  int
	MinDurationMS int64
	MaxDurationMS int64
	// MaxCPS is the reading speed: a cue stays on screen at least
	// chars/MaxCPS seconds, unless the next cue starts right when it ends
	// (speech too fast to allow more; captions never lag behind speech).
	MaxCPS float64
	// PauseMS is the silence between words that starts a new cue.
	PauseMS int64
	// SentenceMinChars: a sentence end starts a new cue only when the cue
	// already holds this many characters, so "Yes." does not flash alone.
	SentenceMinChars int
}

// DefaultRules returns the rules [BuildCues] and [CheckCues] use by default.
func DefaultRules() Rules {
	return Rules{
		MaxLines:         2,
		MaxLineChars:     42,
		MinDurationMS:    1000,
		MaxDurationMS:    7000,
		MaxCPS:           17,
		PauseMS:          600,
		SentenceMinChars: 16,
	}
}

// BuildCues groups words into readable cues with [DefaultRules].
func BuildCues(words []Word) []Cue {
	return BuildCuesWithRules(words, DefaultRules())
}

// cueToken is a word prepared for layout: plain text, sane times.
type cueToken struct {
	text       string
	start, end int64
}

// BuildCuesWithRules groups words into cues: a new cue starts at a pause, at
// a sentence end, when the text would no longer fit the lines, or when the
// cue would stay on screen too long. Each cue then gets at least its reading
// time by extending into the following gap, but never into the next cue.
// Every cue it returns passes [CheckCues] with the same rules.
func BuildCuesWithRules(words []Word, r Rules) []Cue {
	r = r.sane()
	toks := prepareTokens(words, r)
	if len(toks) == 0 {
		return nil
	}
	// Group tokens into cues.
	var groups [][]cueToken
	var cur []cueToken
	for _, t := range toks {
		if len(cur) > 0 && breakBefore(cur, t, r) {
			groups = append(groups, cur)
			cur = nil
		}
		cur = append(cur, t)
	}
	groups = append(groups, cur)

	cues := make([]Cue, 0, len(groups))
	for i, g := range groups {
		lines, _ := layoutLines(tokenTexts(g), r)
		plain := strings.Join(lines, "\n")
		start := g[0].start
		end := g[len(g)-1].end
		need := readingTimeMS(plain, r)
		if end-start < need {
			end = start + need
			if i+1 < len(groups) && end > groups[i+1][0].start {
				end = groups[i+1][0].start
			}
		}
		if end-start > r.MaxDurationMS {
			end = start + r.MaxDurationMS
		}
		escaped := make([]string, len(lines))
		for j, l := range lines {
			escaped[j] = EscapeText(l)
		}
		cues = append(cues, Cue{StartMS: start, EndMS: end, Text: strings.Join(escaped, "\n")})
	}
	return cues
}

func (r Rules) sane() Rules {
	d := DefaultRules()
	if r.MaxLines <= 0 {
		r.MaxLines = d.MaxLines
	}
	if r.MaxLineChars <= 0 {
		r.MaxLineChars = d.MaxLineChars
	}
	if r.MinDurationMS <= 0 {
		r.MinDurationMS = d.MinDurationMS
	}
	if r.MaxDurationMS <= 0 {
		r.MaxDurationMS = d.MaxDurationMS
	}
	if r.MaxDurationMS < r.MinDurationMS {
		r.MaxDurationMS = r.MinDurationMS
	}
	if r.MaxCPS <= 0 || math.IsNaN(r.MaxCPS) || math.IsInf(r.MaxCPS, 0) {
		r.MaxCPS = d.MaxCPS
	}
	if r.PauseMS <= 0 {
		r.PauseMS = d.PauseMS
	}
	if r.SentenceMinChars < 0 {
		r.SentenceMinChars = 0
	}
	return r
}

// prepareTokens cleans engine output so layout can rely on it: it drops empty
// words, splits words that contain spaces or are too long for one line, sorts
// by start, and removes overlaps (each word starts no earlier than the
// previous one ends and lasts at least 1 ms, at most the longest cue).
func prepareTokens(words []Word, r Rules) []cueToken {
	ws := make([]Word, 0, len(words))
	for _, w := range words {
		if strings.TrimSpace(cleanWordText(w.Text)) == "" {
			continue
		}
		ws = append(ws, w)
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].StartMS < ws[j].StartMS })

	var toks []cueToken
	var prevEnd int64
	for _, w := range ws {
		start := max(w.StartMS, 0, prevEnd)
		end := max(w.EndMS, start+1)
		if end-start > r.MaxDurationMS {
			end = start + r.MaxDurationMS
		}
		parts := splitWordText(cleanWordText(w.Text), r.MaxLineChars)
		total := 0
		for _, p := range parts {
			total += utf8.RuneCountInString(p)
		}
		pos := 0
		for k, p := range parts {
			n := utf8.RuneCountInString(p)
			ps := start + (end-start)*int64(pos)/int64(total)
			pe := start + (end-start)*int64(pos+n)/int64(total)
			if k == len(parts)-1 {
				pe = end
			}
			ps = max(ps, prevEnd)
			pe = max(pe, ps+1)
			toks = append(toks, cueToken{text: p, start: ps, end: pe})
			prevEnd = pe
			pos += n
		}
	}
	return toks
}

// cleanWordText makes a word safe for a caption line: control characters and
// line breaks become spaces (a word never breaks a line by itself).
func cleanWordText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		if r == utf8.RuneError {
			return '\uFFFD'
		}
		return r
	}, s)
}

// splitWordText splits on spaces and cuts any piece longer than maxChars.
func splitWordText(s string, maxChars int) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		rs := []rune(f)
		for len(rs) > maxChars {
			out = append(out, string(rs[:maxChars]))
			rs = rs[maxChars:]
		}
		if len(rs) > 0 {
			out = append(out, string(rs))
		}
	}
	return out
}

func tokenTexts(g []cueToken) []string {
	out := make([]string, len(g))
	for i, t := range g {
		out[i] = t.text
	}
	return out
}

func breakBefore(cur []cueToken, next cueToken, r Rules) bool {
	last := cur[len(cur)-1]
	if next.start-last.end >= r.PauseMS {
		return true
	}
	if next.end-cur[0].start > r.MaxDurationMS {
		return true
	}
	if endsSentence(last.text) && charCount(strings.Join(tokenTexts(cur), " ")) >= r.SentenceMinChars {
		return true
	}
	if _, ok := layoutLines(append(tokenTexts(cur), next.text), r); !ok {
		return true
	}
	return false
}

func endsSentence(w string) bool {
	w = strings.TrimRight(w, "\"')]»”’")
	return strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!") || strings.HasSuffix(w, "…")
}

func endsClause(w string) bool {
	return endsSentence(w) || strings.HasSuffix(w, ",") || strings.HasSuffix(w, ";") || strings.HasSuffix(w, ":")
}

// layoutLines breaks words into at most r.MaxLines lines of at most
// r.MaxLineChars characters. Two-line cues are balanced and prefer a break
// after punctuation, as subtitlers do; ok is false when the words do not fit.
func layoutLines(words []string, r Rules) (lines []string, ok bool) {
	one := strings.Join(words, " ")
	if charCount(one) <= r.MaxLineChars {
		return []string{one}, true
	}
	if r.MaxLines < 2 {
		return []string{one}, false
	}
	if r.MaxLines == 2 {
		best, bestScore := -1, math.MaxInt
		for k := 1; k < len(words); k++ {
			l1 := charCount(strings.Join(words[:k], " "))
			l2 := charCount(strings.Join(words[k:], " "))
			if l1 > r.MaxLineChars || l2 > r.MaxLineChars {
				continue
			}
			score := abs(l1 - l2)
			if endsClause(words[k-1]) {
				score -= 12
			}
			if l1 > l2 {
				// Prefer a shorter top line (a pyramid) when balance is equal.
				score++
			}
			if score < bestScore {
				best, bestScore = k, score
			}
		}
		if best < 0 {
			return []string{one}, false
		}
		return []string{strings.Join(words[:best], " "), strings.Join(words[best:], " ")}, true
	}
	// More than two lines allowed: fill greedily.
	var cur []string
	for _, w := range words {
		if len(cur) > 0 && charCount(strings.Join(append(cur, w), " ")) > r.MaxLineChars {
			lines = append(lines, strings.Join(cur, " "))
			cur = nil
		}
		cur = append(cur, w)
	}
	lines = append(lines, strings.Join(cur, " "))
	if len(lines) > r.MaxLines {
		return lines, false
	}
	for _, l := range lines {
		if charCount(l) > r.MaxLineChars {
			return lines, false
		}
	}
	return lines, true
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func charCount(s string) int { return utf8.RuneCountInString(s) }

// readingTimeMS is how long plain text must stay on screen: its characters
// (line breaks excluded) at r.MaxCPS, at least r.MinDurationMS, at most
// r.MaxDurationMS.
func readingTimeMS(plain string, r Rules) int64 {
	n := charCount(strings.ReplaceAll(plain, "\n", ""))
	need := int64(math.Ceil(float64(n) * 1000 / r.MaxCPS))
	return min(max(need, r.MinDurationMS), r.MaxDurationMS)
}

// Violation is one broken readability rule, found by [CheckCues].
type Violation struct {
	Index int    `json:"index"`
	Rule  string `json:"rule"`
	Msg   string `json:"message"`
}

func (v Violation) Error() string {
	return fmt.Sprintf("cue %d: %s: %s", v.Index+1, v.Rule, v.Msg)
}

// CheckCues reports every cue that breaks r: empty text, too many or too long
// lines, end not after start, shorter than its reading time (or 1 s) while
// the next cue leaves room, longer than the maximum, out of order or
// overlapping the previous cue. An empty result means the track is readable.
func CheckCues(cues []Cue, r Rules) []Violation {
	r = r.sane()
	var out []Violation
	add := func(i int, rule, format string, args ...any) {
		out = append(out, Violation{Index: i, Rule: rule, Msg: fmt.Sprintf(format, args...)})
	}
	for i, c := range cues {
		plain := PlainText(c.Text)
		if strings.TrimSpace(plain) == "" {
			add(i, "empty", "cue has no text")
		}
		lines := strings.Split(plain, "\n")
		if len(lines) > r.MaxLines {
			add(i, "lines", "%d lines, at most %d allowed", len(lines), r.MaxLines)
		}
		for j, l := range lines {
			if n := charCount(l); n > r.MaxLineChars {
				add(i, "line_length", "line %d has %d characters, at most %d allowed", j+1, n, r.MaxLineChars)
			}
		}
		dur := c.EndMS - c.StartMS
		if dur <= 0 {
			add(i, "timing", "end %s is not after start %s", FormatTimestamp(c.EndMS), FormatTimestamp(c.StartMS))
			continue
		}
		if dur > r.MaxDurationMS {
			add(i, "max_duration", "on screen %s, at most %s allowed", fmtSeconds(dur), fmtSeconds(r.MaxDurationMS))
		}
		packed := i+1 < len(cues) && cues[i+1].StartMS == c.EndMS
		if need := readingTimeMS(plain, r); dur < need && !packed {
			add(i, "reading_time", "on screen %s, needs %s to read and the next cue leaves room", fmtSeconds(dur), fmtSeconds(need))
		}
		if i > 0 {
			p := cues[i-1]
			switch {
			case c.StartMS < p.StartMS:
				add(i, "order", "starts at %s, before the previous cue (%s)", FormatTimestamp(c.StartMS), FormatTimestamp(p.StartMS))
			case c.StartMS < p.EndMS:
				add(i, "overlap", "starts at %s while the previous cue shows until %s", FormatTimestamp(c.StartMS), FormatTimestamp(p.EndMS))
			}
		}
	}
	return out
}

func fmtSeconds(ms int64) string {
	return fmt.Sprintf("%.3f s", float64(ms)/1000)
}
