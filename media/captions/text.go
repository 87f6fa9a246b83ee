package captions

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// EscapeText turns plain text into WebVTT cue text: "&", "<" and ">" become
// character references, so a word like "<3" or "Q&A" shows as typed.
func EscapeText(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// PlainText returns what a viewer reads from WebVTT cue text: tags removed
// (<i>, <v Speaker>, <00:01.000>), character references decoded. It is the
// inverse of [EscapeText] for text without tags.
func PlainText(payload string) string {
	if !strings.ContainsAny(payload, "&<") {
		return payload
	}
	var b strings.Builder
	for i := 0; i < len(payload); {
		c := payload[i]
		switch c {
		case '<':
			end := strings.IndexByte(payload[i:], '>')
			if end < 0 {
				return b.String() // an unterminated tag runs to the end of the text
			}
			i += end + 1
		case '&':
			r, n := decodeEntity(payload[i:])
			if n == 0 {
				b.WriteByte('&')
				i++
				continue
			}
			b.WriteString(r)
			i += n
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// decodeEntity decodes the character reference at the start of s (which
// begins with '&'): the named ones WebVTT defines and numeric ones. It
// returns the text and the bytes consumed, or 0 when s is a literal '&'.
func decodeEntity(s string) (string, int) {
	semi := strings.IndexByte(s, ';')
	if semi < 2 || semi > 12 {
		return "", 0
	}
	name := s[1:semi]
	switch name {
	case "amp":
		return "&", semi + 1
	case "lt":
		return "<", semi + 1
	case "gt":
		return ">", semi + 1
	case "nbsp":
		return "\u00a0", semi + 1
	case "lrm":
		return "\u200e", semi + 1
	case "rlm":
		return "\u200f", semi + 1
	case "quot":
		return "\"", semi + 1
	case "apos":
		return "'", semi + 1
	}
	if name[0] == '#' {
		var v uint64
		var err error
		if len(name) > 1 && (name[1] == 'x' || name[1] == 'X') {
			v, err = strconv.ParseUint(name[2:], 16, 32)
		} else {
			v, err = strconv.ParseUint(name[1:], 10, 32)
		}
		if err != nil || v == 0 || v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
			return "", 0
		}
		return string(rune(v)), semi + 1
	}
	return "", 0
}

// decodeText turns uploaded caption bytes into UTF-8 with "\n" line ends.
// Caption files come from many tools: a UTF-8 or UTF-16 byte order mark is
// honoured, and text that is not valid UTF-8 is read as Windows-1252 (what
// most Windows subtitle editors write), so accents survive instead of
// turning into replacement characters; with strict such text is refused
// (ErrNotUTF8, naming the first bad byte).
func decodeText(data []byte, strict bool) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return normalizeNewlines(decodeUTF16(data[2:], binary.LittleEndian)), nil
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return normalizeNewlines(decodeUTF16(data[2:], binary.BigEndian)), nil
	}
	if utf8.Valid(data) {
		return normalizeNewlines(string(data)), nil
	}
	if strict {
		at := 0
		for at < len(data) {
			r, n := utf8.DecodeRune(data[at:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			at += n
		}
		return "", fmt.Errorf("%w (byte %d is not valid UTF-8)", ErrNotUTF8, at+1)
	}
	dec, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return "", fmt.Errorf("decode text as Windows-1252: %w", err)
	}
	return normalizeNewlines(string(dec)), nil
}

func decodeUTF16(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, order.Uint16(b[i:]))
	}
	return string(utf16.Decode(u))
}

// normalizeNewlines maps CRLF and CR to LF and NUL to U+FFFD, as the WebVTT
// parser does before splitting lines.
func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// FormatTimestamp formats ms as a WebVTT timestamp, hh:mm:ss.ttt.
func FormatTimestamp(ms int64) string {
	return formatTS(ms, '.')
}

func formatTS(ms int64, sep byte) string {
	if ms < 0 {
		ms = 0
	}
	h := ms / 3600000
	m := ms / 60000 % 60
	s := ms / 1000 % 60
	f := ms % 1000
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, f)
}

// parseVTTTimestamp parses a WebVTT timestamp ([hh:]mm:ss.ttt) as the spec's
// parser does: minutes and seconds are two digits below 60, fractions three
// digits, hours any number of digits.
func parseVTTTimestamp(s string) (int64, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	var hours int64
	if len(parts) == 3 {
		h := parts[0]
		if h == "" || len(h) > 9 || !allDigits(h) {
			return 0, false
		}
		hours, _ = strconv.ParseInt(h, 10, 64)
		parts = parts[1:]
	}
	mm, rest := parts[0], parts[1]
	if len(mm) != 2 || !allDigits(mm) {
		return 0, false
	}
	sec, frac, ok := strings.Cut(rest, ".")
	if !ok || len(sec) != 2 || !allDigits(sec) || len(frac) != 3 || !allDigits(frac) {
		return 0, false
	}
	m, _ := strconv.ParseInt(mm, 10, 64)
	sc, _ := strconv.ParseInt(sec, 10, 64)
	f, _ := strconv.ParseInt(frac, 10, 64)
	if m > 59 || sc > 59 {
		return 0, false
	}
	return ((hours*60+m)*60+sc)*1000 + f, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
