package textcheck

import (
	"strings"
	"testing"
)

func TestLineAndBlock(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		line, block string
	}{
		{"Fractions, take 2 — 5ᵉ", "", ""},
		{"", "", ""},
		{"two\nlines", "control characters (found U+000A)", ""},
		{"tab\there", "control characters (found U+0009)", ""},
		{"nul\x00", "control characters (found U+0000)", "control characters (found U+0000)"},
		{"escape \x1b[31mred", "control characters (found U+001B)", "control characters (found U+001B)"},
		{"c1 \u0085", "control characters (found U+0085)", "control characters (found U+0085)"},
		{"sep \u2028", "control characters (found U+2028)", "control characters (found U+2028)"},
		{"bad \xff utf-8", "valid UTF-8", "valid UTF-8"},
		{"half \xe2\x82", "valid UTF-8", "valid UTF-8"},
	} {
		if got := Line(tc.in); (tc.line == "") != (got == "") || !strings.Contains(got, tc.line) {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
		}
		if got := Block(tc.in); (tc.block == "") != (got == "") || !strings.Contains(got, tc.block) {
			t.Errorf("Block(%q) = %q, want %q", tc.in, got, tc.block)
		}
	}
}
