package annotations_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// seedRich adds annotations that use every field the formats carry.
func seedRich(t *testing.T, w *world) {
	t.Helper()
	w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](12500), EndMS: ptr[int64](20000), Body: "Nice **pause** — [see](https://example.org/x)\n\n- a\n- b",
		Kind: "strength", Tags: []string{"wait", "pause"}, Criterion: "wait-time", Level: "proficient", Region: &annotations.Region{X: 0.125, Y: 0.1, W: 0.5, H: 0.333333}})
	w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](12500), Body: "Same start, a moment", Kind: "question"})
	w.mustCreate(t, w.peer, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: "=1+1 formula <b>html</b> --> arrow", Kind: "suggestion", Criterion: "pacing"})
	w.mustCreate(t, w.peer, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](59999), EndMS: ptr[int64](60000), Kind: "note", Tags: []string{"end"}})
}

func TestWebAnnotationRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			seedRich(t, w)
			var first bytes.Buffer
			if err := w.svc.ExportWebAnnotations(ctx, w.coach, w.clip, annotations.ExportQuery{}, &first); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(first.String(), `"@context": "http://www.w3.org/ns/anno.jsonld"`) ||
				!strings.Contains(first.String(), `"value": "t=12.5,20&xywh=percent:12.5,10,50,33.3333"`) ||
				!strings.Contains(first.String(), `"conformsTo": "http://www.w3.org/TR/media-frags/"`) {
				t.Fatalf("export:\n%s", first.String())
			}
			copyClip := w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock)
			res, err := w.svc.ImportWebAnnotations(ctx, w.coach, copyClip, first.Bytes(), "audience")
			if err != nil || res.Imported != 4 {
				t.Fatalf("import = %+v, %v", res, err)
			}
			var second bytes.Buffer
			if err := w.svc.ExportWebAnnotations(ctx, w.coach, copyClip, annotations.ExportQuery{}, &second); err != nil {
				t.Fatal(err)
			}
			norm := func(b []byte, clip string) []map[string]any {
				var page struct{ Items []map[string]any }
				if err := json.Unmarshal(b, &page); err != nil {
					t.Fatal(err)
				}
				for _, it := range page.Items {
					for _, k := range []string{"id", "creator", "created", "modified"} {
						delete(it, k)
					}
					it["target"].(map[string]any)["source"] = "clip"
				}
				return page.Items
			}
			a, _ := json.Marshal(norm(first.Bytes(), w.clip))
			b, _ := json.Marshal(norm(second.Bytes(), copyClip))
			if !bytes.Equal(a, b) {
				t.Fatalf("round trip changed the annotations:\n%s\n%s", a, b)
			}
			// Importing into a clip coded with another rubric names the item.
			foreign := w.addClip(t, w.owner, 60000, w.otherRubricID, w.group, testClock)
			_, err = w.svc.ImportWebAnnotations(ctx, w.coach, foreign, first.Bytes(), "")
			var v *apperr.Validation
			if !errors.As(err, &v) || !strings.Contains(err.Error(), "items[0].body (assessing).id (criterion)") {
				t.Fatalf("import into another rubric's clip: %v", err)
			}
			if p, _ := w.svc.List(ctx, w.coach, foreign, annotations.ListQuery{}); len(p.Items) != 0 {
				t.Fatal("a failed import stored annotations")
			}
		})
	}
}

func TestWebAnnotationImportErrorsNamePaths(t *testing.T) {
	t.Parallel()
	item := func(sel string) string {
		return `{"type":"Annotation","body":[{"type":"TextualBody","value":"x"}],"target":{"source":"urn:x","selector":` + sel + `}}`
	}
	page := func(items ...string) []byte {
		return []byte(`{"@context":"http://www.w3.org/ns/anno.jsonld","type":"AnnotationPage","items":[` + strings.Join(items, ",") + `]}`)
	}
	good := item(`{"type":"FragmentSelector","conformsTo":"http://www.w3.org/TR/media-frags/","value":"t=1,2"}`)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not json", []byte("{\n  \"items\": [,]\n}"), "line 2, column"},
		{"items not an array", []byte(`{"items": 3}`), "items"},
		{"bad time", page(good, good, good, item(`{"type":"FragmentSelector","value":"t=abc,2"}`)), "items[3].target.selector.value"},
		{"end before start", page(item(`{"type":"FragmentSelector","value":"t=5,2"}`)), "items[0].target.selector.value"},
		{"wrong selector", page(good, item(`{"type":"TextQuoteSelector","exact":"x"}`)), "items[1].target.selector.type"},
		{"pixel region", page(item(`{"type":"FragmentSelector","value":"t=1&xywh=10,10,5,5"}`)), "items[0].target.selector.value"},
		{"no target", []byte(`{"items":[{"type":"Annotation"}]}`), "items[0].target"},
		{"bad kind", []byte(`{"items":[{"type":"Annotation","body":{"type":"TextualBody","purpose":"classifying","value":"praise"},"target":"urn:x#t=1"}]}`), "items[0].body.value"},
		{"not an annotation", page(`"text"`), "items[0]"},
		{"invalid utf-8", []byte("{\"items\":[\"\xff\"]}"), "UTF-8"},
		{"data after the document", append(page(good), "\n{\"items\":[]}"...), "line 2, column 1: the file has more after its JSON document"},
	}
	for _, c := range cases {
		_, err := annotations.ParseWebAnnotations(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to name %q", c.name, err, c.want)
		}
	}
	ins, err := annotations.ParseWebAnnotations(page(good, item(`[{"type":"CssSelector","value":"#v"},{"type":"FragmentSelector","value":"t=npt:0:01:02.5"}]`)))
	if err != nil || len(ins) != 2 || *ins[1].StartMS != 62500 || ins[1].EndMS != nil {
		t.Fatalf("parse = %+v, %v", ins, err)
	}
}

func TestCSVVTTAndReportExports(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			seedRich(t, w)
			var buf bytes.Buffer
			if err := w.svc.ExportCSV(ctx, w.coach, w.clip, annotations.ExportQuery{}, &buf); err != nil {
				t.Fatal(err)
			}
			rows, err := csv.NewReader(&buf).ReadAll()
			if err != nil || len(rows) != 5 {
				t.Fatalf("csv rows %d, %v", len(rows), err)
			}
			// Documented order: start_ms, end_ms (moments first), created_at, id.
			if rows[1][1] != "1" || rows[2][1] != "12500" || rows[2][2] != "" || rows[3][2] != "20000" || rows[4][1] != "59999" {
				t.Fatalf("csv order: %v", rows)
			}
			if body := rows[1][21]; !strings.HasPrefix(body, "'=1+1") {
				t.Fatalf("formula not defused: %q", body)
			}
			buf.Reset()
			if err := w.svc.ExportCSV(ctx, w.coach, w.clip, annotations.ExportQuery{Kinds: []string{"strength", "question"}, Authors: []string{w.coach.UserID}}, &buf); err != nil {
				t.Fatal(err)
			}
			if rows, err := csv.NewReader(&buf).ReadAll(); err != nil || len(rows) != 3 {
				t.Fatalf("filtered csv has %d rows, %v", len(rows), err)
			}
			buf.Reset()
			if err := w.svc.ExportVTT(ctx, w.coach, w.clip, annotations.ExportQuery{}, "metadata", &buf); err != nil {
				t.Fatal(err)
			}
			vtt := buf.String()
			if !strings.HasPrefix(vtt, "WEBVTT") || !strings.Contains(vtt, "00:00:12.500 --> 00:00:20.000") ||
				strings.Count(vtt, "-->") != 4 || strings.Contains(vtt, "<b>") {
				t.Fatalf("vtt:\n%s", vtt)
			}
			buf.Reset()
			if err := w.svc.ExportVTT(ctx, w.coach, w.clip, annotations.ExportQuery{}, "chapters", &buf); err != nil {
				t.Fatal(err)
			}
			ch := buf.String()
			if strings.Count(ch, "-->") != 3 || !strings.Contains(ch, "00:00:12.500 --> 00:00:59.999") || !strings.Contains(ch, "&lt;b&gt;") ||
				!strings.Contains(ch, "Strength: Wait time (Proficient) — Nice pause — see a b") || strings.Contains(ch, "**") {
				t.Fatalf("chapters:\n%s", ch)
			}
			buf.Reset()
			if err := w.svc.ExportReport(ctx, w.coach, w.clip, annotations.ExportQuery{}, &buf); err != nil {
				t.Fatal(err)
			}
			rep := buf.String()
			if !strings.Contains(rep, "@media print") || strings.Contains(rep, "<b>html</b>") || !strings.Contains(rep, "&lt;b&gt;html&lt;/b&gt;") ||
				!strings.Contains(rep, "<strong>pause</strong>") || !strings.Contains(rep, "Wait time") {
				t.Fatalf("report:\n%s", rep)
			}
			if err := w.svc.ExportCSV(ctx, w.outsider, w.clip, annotations.ExportQuery{}, &buf); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("outsider exports: %v", err)
			}
		})
	}
}

func TestReportListsReplies(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "Nice **pause**"})
			mine := w.mustCreate(t, w.owner, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](2000), Body: "I rushed here"})
			w.mustCreate(t, w.peer, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](3000), Body: "No thread"})
			// Replies are ordered by time, not by when the test wrote them.
			at := func(r annotations.Reply, minute int) {
				exec(t, w.db, `UPDATE annotation_replies SET created_at = ? WHERE id = ?`, sqldb.Millis(testClock.Add(time.Duration(minute)*time.Minute)), r.ID)
			}
			at(mustReply(t, w, w.owner, ann.ID, annotations.ReplyInput{Body: "I'll wait **longer** <script>alert(1)</script>"}), 2)
			at(mustReply(t, w, w.peer, ann.ID, annotations.ReplyInput{Body: "Agreed, see [notes](https://example.org/n)"}), 1)
			gone := mustReply(t, w, w.coach, ann.ID, annotations.ReplyInput{Body: "retracted remark"})
			if _, err := w.svc.DeleteReply(ctx, w.coach, w.clip, ann.ID, gone.ID); err != nil {
				t.Fatal(err)
			}
			at(mustReply(t, w, w.coach, mine.ID, annotations.ReplyInput{Body: "coach's view"}), 3)
			at(mustReply(t, w, w.owner, mine.ID, annotations.ReplyInput{Body: "my follow-up"}), 4)
			report := func(a accounts.Actor) string {
				t.Helper()
				var buf bytes.Buffer
				if err := w.svc.ExportReport(ctx, a, w.clip, annotations.ExportQuery{}, &buf); err != nil {
					t.Fatal(err)
				}
				return buf.String()
			}
			rep := report(w.coach)
			inOrder := []string{
				"3 annotations",
				"Nice <strong>pause</strong>", "2 replies",
				`<span class="who">Pat Peer</span> <span class="when">2026-03-02 09:01 UTC</span>`,
				`Agreed, see <a href="https://example.org/n" rel="nofollow noopener noreferrer">notes</a>`,
				`<span class="who">Tess Teacher</span> <span class="when">2026-03-02 09:02 UTC</span>`,
				"I&#39;ll wait <strong>longer</strong> &lt;script&gt;alert(1)&lt;/script&gt;",
				"I rushed here", "2 replies", "coach&#39;s view", "my follow-up",
				"No thread",
			}
			rest := rep
			for _, want := range inOrder {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("report lacks %q after what came before:\n%s", want, rep)
				}
				rest = rest[i+len(want):]
			}
			for _, bad := range []string{"1 replies", "1 annotations", "<script>alert", "retracted remark"} {
				if strings.Contains(rep, bad) {
					t.Errorf("report has %q:\n%s", bad, rep)
				}
			}
			if strings.Count(rep, `class="replies"`) != 2 {
				t.Errorf("want reply lists under the two threads only:\n%s", rep)
			}
			// Reflect-first hides others' replies from the owner, as the
			// thread does, until they reflect.
			exec(t, w.db, `UPDATE clips SET reflect_first = TRUE WHERE id = ?`, w.clip)
			rep = report(w.owner)
			if !strings.Contains(rep, "1 annotation ·") || !strings.Contains(rep, "1 reply</small>") ||
				!strings.Contains(rep, "my follow-up") || strings.Contains(rep, "coach&#39;s view") {
				t.Fatalf("reflect-first report:\n%s", rep)
			}
		})
	}
}

func TestRubricImportExport(t *testing.T) {
	t.Parallel()
	starters, err := annotations.StarterRubrics()
	if err != nil || len(starters) != 3 {
		t.Fatalf("starters: %d, %v", len(starters), err)
	}
	r := &annotations.Rubric{ID: "r1", Version: 2, RubricContent: starters["classroom-discourse"]}
	var js, cs bytes.Buffer
	if err := annotations.ExportRubricJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if err := annotations.ExportRubricCSV(&cs, r); err != nil {
		t.Fatal(err)
	}
	fromJSON, err := annotations.ParseRubricJSON(js.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := annotations.ParseRubricCSV(cs.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(r.RubricContent)
	for name, got := range map[string]annotations.RubricContent{"json": fromJSON, "csv": fromCSV} {
		if g, _ := json.Marshal(got); !bytes.Equal(g, want) {
			t.Errorf("%s round trip:\n%s\nwant\n%s", name, g, want)
		}
	}
	lines := strings.Split(cs.String(), "\n")
	badScore := strings.Join([]string{lines[0], lines[1], lines[2], "T,,d,D,,c,C,,l,L,one,"}, "\n")
	cases := []struct {
		name, format, data, want string
	}{
		{"csv bad score", "csv", badScore, "line 4: level_score"},
		{"csv bad header", "csv", "title,x\n", "line 1"},
		{"csv wrong field count", "csv", lines[0] + "\na,b\n", "line 2"},
		{"csv empty", "csv", "", "line 1"},
		{"json syntax", "json", "{\n\"title\": \"x\",\n\"domains\": [}\n", "line 3"},
		{"json type", "json", `{"title": 5}`, "title must be a string"},
		{"json unknown field", "json", `{"title": "x", "colour": 1}`, "colour"},
		{"json invalid content", "json", `{"title": "x", "domains": [{"title": "D", "criteria": [{"title": "C", "levels": [{"label": "L", "score": 500}]}]}]}`, "domains[0].criteria[0].levels[0].score"},
		{"json data after the document", "json", `{"title": "x", "domains": [{"title": "D", "criteria": [{"title": "C", "levels": [{"label": "L", "score": 1}]}]}]} []`, "more after its JSON document"},
		{"json duplicate key", "json", `{"title": "x", "domains": [{"title": "D", "criteria": [{"key": "a", "title": "C"}, {"key": "a", "title": "C2"}]}]}`, "domains[0].criteria[1].key"},
	}
	for _, c := range cases {
		var err error
		if c.format == "csv" {
			_, err = annotations.ParseRubricCSV([]byte(c.data))
		} else {
			_, err = annotations.ParseRubricJSON([]byte(c.data))
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.want)
		}
	}
}
