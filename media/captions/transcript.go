package captions

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Word is one recognized word with its time in the clip. Times are
// milliseconds from the start of the media so that a click on a word can seek
// the player directly.
type Word struct {
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Text    string `json:"text"`
	// Confidence is the engine's posterior in [0,1]; 1 when the engine does
	// not report one (uploaded tracks).
	Confidence float64 `json:"confidence"`
}

// TranscriptVersion is the version of the transcript JSON written by
// [EncodeTranscript]; decoding refuses newer versions instead of guessing.
const TranscriptVersion = 1

// maxTranscriptBytes bounds what [DecodeTranscript] reads. A three-hour lesson
// is about 30,000 words, roughly 3 MB of JSON.
const maxTranscriptBytes = 64 << 20

// Transcript is the word-level transcript of one clip, kept next to the
// caption track so that search and click-to-seek survive caption edits.
type Transcript struct {
	Version  int    `json:"version"`
	Engine   string `json:"engine,omitempty"`
	Language string `json:"language,omitempty"`
	Words    []Word `json:"words"`
}

// EncodeTranscript writes t as JSON. Words are written in time order.
func EncodeTranscript(w io.Writer, t Transcript) error {
	t.Version = TranscriptVersion
	if t.Words == nil {
		t.Words = []Word{}
	}
	words := make([]Word, len(t.Words))
	copy(words, t.Words)
	sort.SliceStable(words, func(i, j int) bool { return words[i].StartMS < words[j].StartMS })
	t.Words = words
	enc := json.NewEncoder(w)
	if err := enc.Encode(t); err != nil {
		return fmt.Errorf("encode transcript: %w", err)
	}
	return nil
}

// DecodeTranscript reads transcript JSON written by [EncodeTranscript] and
// checks that every word has a sane time range.
func DecodeTranscript(r io.Reader) (Transcript, error) {
	data, err := readLimited(r, maxTranscriptBytes)
	if err != nil {
		return Transcript{}, fmt.Errorf("decode transcript: %w", err)
	}
	var t Transcript
	if err := json.Unmarshal(data, &t); err != nil {
		return Transcript{}, fmt.Errorf("decode transcript: %w", err)
	}
	if t.Version < 1 || t.Version > TranscriptVersion {
		return Transcript{}, fmt.Errorf("decode transcript: unsupported version %d (this build reads up to %d)", t.Version, TranscriptVersion)
	}
	for i, w := range t.Words {
		if w.StartMS < 0 || w.EndMS < w.StartMS {
			return Transcript{}, fmt.Errorf("decode transcript: word %d %q has invalid time range %d..%d ms", i, w.Text, w.StartMS, w.EndMS)
		}
	}
	return t, nil
}

// Text returns the transcript as plain text, one space between words.
func (t Transcript) Text() string {
	var b strings.Builder
	for i, w := range t.Words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w.Text)
	}
	return b.String()
}

// WordAt returns the index of the word being spoken at ms, or of the next
// word after ms when ms falls in a pause; -1 when ms is after the last word.
// It lets the player highlight the current word.
func (t Transcript) WordAt(ms int64) int {
	i := sort.Search(len(t.Words), func(i int) bool { return t.Words[i].EndMS > ms })
	if i == len(t.Words) {
		return -1
	}
	return i
}

// Match is one hit of [Transcript.Search]: the words [First, Last] matched,
// where to seek, and a short context for the result list.
type Match struct {
	First   int    `json:"first"`
	Last    int    `json:"last"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Context string `json:"context"`
}

// Search finds the phrase q (one or more words) in the transcript, ignoring
// case, accents and punctuation, and returns at most limit matches in time
// order (limit <= 0 means 100). Teachers search for what they said
// ("fractions", "turn to your partner") and jump there.
func (t Transcript) Search(q string, limit int) []Match {
	if limit <= 0 {
		limit = 100
	}
	needle := strings.Fields(foldText(q))
	if len(needle) == 0 {
		return nil
	}
	hay := make([]string, len(t.Words))
	for i, w := range t.Words {
		hay[i] = foldText(w.Text)
	}
	var out []Match
	for i := 0; i+len(needle) <= len(hay) && len(out) < limit; i++ {
		ok := true
		for j, n := range needle {
			h := hay[i+j]
			// The last needle word may be a prefix so that "fraction" finds
			// "fractions" while the user is still typing.
			if j == len(needle)-1 {
				ok = strings.HasPrefix(h, n)
			} else {
				ok = h == n
			}
			if !ok {
				break
			}
		}
		if !ok {
			continue
		}
		last := i + len(needle) - 1
		out = append(out, Match{
			First:   i,
			Last:    last,
			StartMS: t.Words[i].StartMS,
			EndMS:   t.Words[last].EndMS,
			Context: t.context(i, last, 6),
		})
	}
	return out
}

func (t Transcript) context(first, last, n int) string {
	lo := max(0, first-n)
	hi := min(len(t.Words)-1, last+n)
	parts := make([]string, 0, hi-lo+1)
	for i := lo; i <= hi; i++ {
		parts = append(parts, t.Words[i].Text)
	}
	return strings.Join(parts, " ")
}

// foldText lowercases, strips accents and drops punctuation so that search
// matches what people type.
func foldText(s string) string {
	tr := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(tr, s)
	if err != nil {
		folded = s
	}
	var b strings.Builder
	for _, r := range strings.ToLower(folded) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		case r == '\'' || r == '\u2019':
			// "don't" and "dont" should match.
		default:
			b.WriteByte(' ')
		}
	}
	return strings.TrimSpace(b.String())
}

// WordsFromCues estimates word times from caption cues, spreading each cue's
// time over its words by length. It gives uploaded caption tracks the same
// search and click-to-seek as recognized ones.
func WordsFromCues(cues []Cue) []Word {
	var out []Word
	for _, c := range cues {
		words := strings.Fields(PlainText(c.Text))
		if len(words) == 0 || c.EndMS <= c.StartMS {
			continue
		}
		total := 0
		for _, w := range words {
			total += len([]rune(w)) + 1
		}
		dur := c.EndMS - c.StartMS
		pos := 0
		for _, w := range words {
			n := len([]rune(w)) + 1
			start := c.StartMS + dur*int64(pos)/int64(total)
			end := c.StartMS + dur*int64(pos+n)/int64(total)
			out = append(out, Word{StartMS: start, EndMS: end, Text: w, Confidence: 1})
			pos += n
		}
	}
	return out
}

// errNilReader guards readLimited against a nil io.Reader.
var errNilReader = errors.New("nil reader")

// readLimited reads all of r, but no more than max bytes: a larger input is
// rejected after reading max+1 bytes instead of being buffered whole.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	if r == nil {
		return nil, errNilReader
	}
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: the file is larger than the %s limit", ErrTooLarge, humanBytes(max))
	}
	return data, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
