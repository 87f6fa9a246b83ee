package annotations

import (
	"strings"
	"testing"
)

func TestChapterTitlesArePlainText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, want string
	}{
		{"strong", "Nice **wait time** after the question", "Suggestion — Nice wait time after the question"},
		{"emphasis", "a *gentle* nudge", "Suggestion — a gentle nudge"},
		{"code", "try `think-pair-share`", "Suggestion — try think-pair-share"},
		{"link keeps its text", "see [the guide](https://example.org/g) first", "Suggestion — see the guide first"},
		{"formatted link text", "[**bold** link](https://example.org)", "Suggestion — bold link"},
		{"unsafe link stays literal", "[x](javascript:alert(1))", "Suggestion — [x](javascript:alert(1))"},
		{"lists and paragraphs", "Two things:\n\n- wait\n- *then* ask\n\n1. one", "Suggestion — Two things: wait then ask one"},
		{"line break", "first\nsecond", "Suggestion — first second"},
		{"html is text", "<b>bold</b> & more", "Suggestion — <b>bold</b> & more"},
		{"unmatched markers stay", "2 * 3 = 6, **not closed", "Suggestion — 2 * 3 = 6, **not closed"},
		{"cut after stripping", "**" + strings.Repeat("a", 70) + "**", "Suggestion — " + strings.Repeat("a", 60) + "…"},
		{"empty", "", "Suggestion"},
	}
	for _, c := range cases {
		if got := chapterTitle(Annotation{Kind: "suggestion", Body: c.body}); got != c.want {
			t.Errorf("%s: chapterTitle(%q) = %q, want %q", c.name, c.body, got, c.want)
		}
	}
}

func TestExportFilenames(t *testing.T) {
	t.Parallel()
	const id = "01jq7zk3m8x2v5n4p6r8t0w2y4"
	cases := []struct {
		title, kind, ext, want string
	}{
		{"Fractions lesson", "feedback", "csv", "fractions-lesson-feedback.csv"},
		{"Fractions lesson", "chapters", "vtt", "fractions-lesson-chapters.vtt"},
		{"  Leçon 3: “Wait time” / Größe  ", "report", "html", "lecon-3-wait-time-gro-e-report.html"},
		{`a"b\c;d`, "feedback", "jsonld", "a-b-c-d-feedback.jsonld"},
		{"日本語の授業", "feedback", "vtt", id + "-feedback.vtt"},
		{"", "report", "html", id + "-report.html"},
		{strings.Repeat("long ", 30), "feedback", "csv", strings.TrimSuffix(strings.Repeat("long-", 12), "-") + "-feedback.csv"},
	}
	for _, c := range cases {
		if got := exportFilename(ClipInfo{ID: id, Title: c.title}, c.kind, c.ext); got != c.want {
			t.Errorf("exportFilename(%q, %s, %s) = %q, want %q", c.title, c.kind, c.ext, got, c.want)
		}
	}
	if got := exportFilename(ClipInfo{ID: "!!", Title: "…"}, "report", "html"); got != "clip-report.html" {
		t.Errorf("no usable title or ID: %q", got)
	}
}

func TestWithScriptSource(t *testing.T) {
	t.Parallel()
	const h = "'sha256-abc='"
	cases := []struct {
		name, policy, want string
	}{
		{"follows default-src", "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
			"default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; script-src 'self' " + h},
		{"extends script-src", "default-src 'none'; script-src 'self' https://cdn.example", "default-src 'none'; script-src 'self' https://cdn.example " + h},
		{"extends script-src-elem too", "script-src 'self';script-src-elem 'self'", "script-src 'self' " + h + "; script-src-elem 'self' " + h},
		{"drops 'none'", "default-src 'none'", "default-src 'none'; script-src " + h},
		{"no policy", "", "script-src " + h},
	}
	for _, c := range cases {
		if got := withScriptSource(c.policy, h); got != c.want {
			t.Errorf("%s: withScriptSource(%q) =\n%q, want\n%q", c.name, c.policy, got, c.want)
		}
	}
}

func TestPlural(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0 replies", 1: "1 reply", 2: "2 replies", 11: "11 replies"} {
		if got := plural(n, "reply", "replies"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
