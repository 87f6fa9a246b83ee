// Package textcheck says what is wrong with text a person wrote, in words
// that go straight into a field error. Every user-written field runs
// through it before it is stored, so that no invalid UTF-8 or control
// character reaches the database, exports, captions or other people's
// screens (where they break JSON consumers, terminals and layouts).
package textcheck

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// Line checks one line of text (a title, a name): valid UTF-8 without
// control characters, line or paragraph separators. It returns "" when
// the text is fine.
func Line(s string) string {
	return check(s, false)
}

// Block checks free text that may span lines: like Line, but newlines,
// carriage returns and tabs are allowed.
func Block(s string) string {
	return check(s, true)
}

func check(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8 text"
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Sprintf("must not contain control characters (found U+%04X)", r)
		}
	}
	return ""
}
