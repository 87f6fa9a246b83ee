package annotations_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/annotations"
)

// cond is a conditional GET: the status, the body and the ETag.
func cond(t *testing.T, srv *httptest.Server, path, who, ifNoneMatch string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Test-User", who)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("ETag")
}

// withCache runs the scenario with the view cache on and off: both must
// answer the same, the cache only faster.
func withCache(t *testing.T, scenario func(t *testing.T, w *world, srv *httptest.Server)) {
	for _, d := range dbs() {
		for _, cache := range []struct {
			name  string
			bytes int64
		}{{"cached", 0}, {"uncached", -1}} {
			t.Run(d.Name+"/"+cache.name, func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, d)
				w.svc = annotations.New(annotations.Config{DB: w.db, Clips: sqlClips{w.db}, Publisher: w.pub,
					Logger: slog.New(slog.DiscardHandler), ViewCacheBytes: cache.bytes})
				scenario(t, w, w.server(t))
			})
		}
	}
}

// step is one request of a scenario and what must come back.
type step struct {
	name   string
	change func(t *testing.T) // done before the request
	path   string
	who    string
	// ifNoneMatch names an earlier step whose ETag the request sends.
	ifNoneMatch string
	status      int
	has, hasNot []string
}

func runSteps(t *testing.T, srv *httptest.Server, steps []step) map[string]string {
	t.Helper()
	etags := map[string]string{}
	for _, s := range steps {
		if s.change != nil {
			s.change(t)
		}
		status, body, tag := cond(t, srv, s.path, s.who, etags[s.ifNoneMatch])
		etags[s.name] = tag
		if status != s.status {
			t.Fatalf("%s: status %d, want %d: %.300s", s.name, status, s.status, body)
		}
		if status == http.StatusNotModified && body != "" {
			t.Fatalf("%s: 304 with a body: %.300s", s.name, body)
		}
		if status < 300 && tag == "" {
			t.Fatalf("%s: no ETag", s.name)
		}
		for _, h := range s.has {
			if !strings.Contains(body, h) {
				t.Fatalf("%s: body lacks %q: %.500s", s.name, h, body)
			}
		}
		for _, h := range s.hasNot {
			if strings.Contains(body, h) {
				t.Fatalf("%s: body has %q: %.500s", s.name, h, body)
			}
		}
	}
	return etags
}

func TestViewsRevalidateAfterEveryChange(t *testing.T) {
	t.Parallel()
	withCache(t, func(t *testing.T, w *world, srv *httptest.Server) {
		ctx := context.Background()
		first := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "first *one*", Criterion: "pacing"})
		list := "/clips/" + w.clip + "/annotations?limit=50"
		sum := "/clips/" + w.clip + "/summary"
		var second annotations.Annotation
		runSteps(t, srv, []step{
			{name: "list", path: list, who: "peer", status: 200, has: []string{"first \\u003cem\\u003eone"}},
			{name: "list again", path: list, who: "peer", ifNoneMatch: "list", status: 304},
			{name: "summary", path: sum, who: "peer", status: 200, has: []string{`"total":1`}},
			{name: "summary again", path: sum, who: "peer", ifNoneMatch: "summary", status: 304},
			// A create changes both.
			{name: "after create", change: func(t *testing.T) {
				second = w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](500), EndMS: ptr[int64](2500), Body: "second"})
			}, path: list, who: "peer", ifNoneMatch: "list", status: 200, has: []string{"second", "first"}},
			{name: "summary after create", path: sum, who: "peer", ifNoneMatch: "summary", status: 200, has: []string{`"total":2`, `"covered_ms":2000`}},
			// An edit of the body re-renders body_html.
			{name: "after edit", change: func(t *testing.T) {
				if _, err := w.svc.Update(ctx, w.coach, w.clip, second.ID, annotations.AnnotationPatch{Body: ptr("**bold** now")}); err != nil {
					t.Fatal(err)
				}
			}, path: list, who: "peer", ifNoneMatch: "after create", status: 200, has: []string{"\\u003cstrong\\u003ebold"}, hasNot: []string{`"second"`}},
			// A reply changes the reply count on the page.
			{name: "after reply", change: func(t *testing.T) {
				if _, err := w.svc.CreateReply(ctx, w.peer, w.clip, first.ID, annotations.ReplyInput{Body: "why?"}); err != nil {
					t.Fatal(err)
				}
			}, path: list, who: "peer", ifNoneMatch: "after edit", status: 200, has: []string{`"reply_count":1`}},
			// A delete takes it out of both.
			{name: "after delete", change: func(t *testing.T) {
				if _, err := w.svc.Delete(ctx, w.coach, w.clip, first.ID); err != nil {
					t.Fatal(err)
				}
			}, path: list, who: "peer", ifNoneMatch: "after reply", status: 200, hasNot: []string{first.ID}},
			{name: "summary after delete", path: sum, who: "peer", ifNoneMatch: "summary after create", status: 200, has: []string{`"total":1`, `"uncoded":1`}},
			// The clip's duration is set by the media pipeline without a
			// clip event; the summary's coverage fraction follows it.
			{name: "summary after new duration", change: func(t *testing.T) {
				exec(t, w.db, `UPDATE clips SET duration_ms = 20000 WHERE id = ?`, w.clip)
			}, path: sum, who: "peer", ifNoneMatch: "summary after delete", status: 200, has: []string{`"duration_ms":20000`, `"covered_fraction":0.1`}},
			// Someone who may not view the clip gets 404, not 304, whatever
			// ETag they send.
			{name: "outsider", path: sum, who: "outsider", ifNoneMatch: "summary after new duration", status: 404},
			{name: "outsider list", path: list, who: "outsider", ifNoneMatch: "after delete", status: 404},
		})
	})
}

func TestViewsKeepPrivateNotesPrivate(t *testing.T) {
	t.Parallel()
	withCache(t, func(t *testing.T, w *world, srv *httptest.Server) {
		ctx := context.Background()
		w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "shared note"})
		list := "/clips/" + w.clip + "/annotations"
		sum := "/clips/" + w.clip + "/summary"
		var shared annotations.Annotation
		etags := runSteps(t, srv, []step{
			// Without private notes, everyone sees the same rows.
			{name: "peer", path: list, who: "peer", status: 200, has: []string{"shared note"}},
			{name: "coach", path: list, who: "coach", ifNoneMatch: "peer", status: 304},
			// The coach writes a private note: it is theirs alone.
			{name: "coach after note", change: func(t *testing.T) {
				w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](2000), Body: "coach only", Visibility: "private"})
			}, path: list, who: "coach", status: 200, has: []string{"coach only", "shared note"}},
			{name: "peer after note", path: list, who: "peer", status: 200, has: []string{"shared note"}, hasNot: []string{"coach only"}},
			// The coach's ETag does not revalidate the peer's view, nor the
			// other way round.
			{name: "peer with coach's tag", path: list, who: "peer", ifNoneMatch: "coach after note", status: 200, hasNot: []string{"coach only"}},
			{name: "coach with peer's tag", path: list, who: "coach", ifNoneMatch: "peer after note", status: 200, has: []string{"coach only"}},
			{name: "owner", path: list, who: "owner", ifNoneMatch: "peer after note", status: 304},
			{name: "coach summary", path: sum, who: "coach", status: 200, has: []string{`"total":2`}},
			{name: "peer summary", path: sum, who: "peer", status: 200, has: []string{`"total":1`}},
			{name: "peer summary with coach's tag", path: sum, who: "peer", ifNoneMatch: "coach summary", status: 200, has: []string{`"total":1`}},
			{name: "private filter", path: list + "?visibility=private", who: "peer", status: 200, hasNot: []string{"coach only"}},
			{name: "coach private filter", path: list + "?visibility=private", who: "coach", status: 200, has: []string{"coach only"}},
			// An audience note turned private vanishes from others' views.
			{name: "peer after privatizing", change: func(t *testing.T) {
				p, err := w.svc.List(ctx, w.coach, w.clip, annotations.ListQuery{Text: "shared note"})
				if err != nil || len(p.Items) != 1 {
					t.Fatalf("find shared note: %v %v", p.Items, err)
				}
				shared = p.Items[0]
				if _, err := w.svc.Update(ctx, w.coach, w.clip, shared.ID, annotations.AnnotationPatch{Visibility: ptr("private")}); err != nil {
					t.Fatal(err)
				}
			}, path: list, who: "peer", ifNoneMatch: "peer after note", status: 200, hasNot: []string{"shared note", "coach only"}},
			{name: "peer summary after privatizing", path: sum, who: "peer", ifNoneMatch: "peer summary", status: 200, has: []string{`"total":0`}},
		})
		if etags["coach after note"] == etags["peer after note"] || etags["peer"] != etags["coach"] {
			t.Fatalf("ETags: shared %q/%q, after the private note %q/%q", etags["peer"], etags["coach"], etags["coach after note"], etags["peer after note"])
		}
	})
}

func TestViewsFollowReflectFirst(t *testing.T) {
	t.Parallel()
	withCache(t, func(t *testing.T, w *world, srv *httptest.Server) {
		ctx := context.Background()
		exec(t, w.db, `UPDATE clips SET reflect_first = TRUE WHERE id = ?`, w.clip)
		w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "coach feedback"})
		w.mustCreate(t, w.owner, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](2000), Body: "my own thought"})
		list := "/clips/" + w.clip + "/annotations"
		sum := "/clips/" + w.clip + "/summary"
		runSteps(t, srv, []step{
			{name: "peer", path: list, who: "peer", status: 200, has: []string{"coach feedback", "my own thought"}},
			// The owner has not reflected yet: only their own, and another
			// viewer's ETag does not revalidate it.
			{name: "owner before", path: list, who: "owner", ifNoneMatch: "peer", status: 200, has: []string{"my own thought"}, hasNot: []string{"coach feedback"}},
			{name: "owner summary before", path: sum, who: "owner", status: 200, has: []string{`"total":1`}},
			{name: "owner again", path: list, who: "owner", ifNoneMatch: "owner before", status: 304},
			// Submitting the reflection appends no clip event, yet it opens
			// the feedback at once.
			{name: "owner after", change: func(t *testing.T) {
				if _, err := w.svc.SaveReflection(ctx, w.owner, w.clip, annotations.ReflectionInput{WentWell: "Pacing", ToChange: "Wait time"}); err != nil {
					t.Fatal(err)
				}
				if _, err := w.svc.SubmitReflection(ctx, w.owner, w.clip); err != nil {
					t.Fatal(err)
				}
			}, path: list, who: "owner", ifNoneMatch: "owner before", status: 200, has: []string{"coach feedback", "my own thought"}},
			{name: "owner summary after", path: sum, who: "owner", ifNoneMatch: "owner summary before", status: 200, has: []string{`"total":2`}},
		})
	})
}

// TestViewsMatchUncachedReads checks that a cached page and summary are
// byte for byte what List and Summarize encode, including body_html of
// rows written before it was stored (seedMany writes rows as they were
// before migration 0007: rendered on read, then backfilled).
func TestViewsMatchUncachedReads(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			seedMany(t, w, 450)
			w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](30000), Body: "a *fresh* [link](https://example.org/x)", Tags: []string{"b", "a"}})
			w.mustCreate(t, w.peer, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](31000), Body: "mine", Visibility: "private"})
			check := func(when string) {
				for _, who := range []string{"peer", "coach"} {
					a := w.who(who)
					cursor := ""
					for {
						lq := annotations.ListQuery{Limit: 200, Cursor: cursor}
						page, err := w.svc.List(ctx, a, w.clip, lq)
						if err != nil {
							t.Fatal(err)
						}
						v, err := w.svc.ListView(ctx, a, w.clip, lq)
						if err != nil {
							t.Fatal(err)
						}
						want, _ := json.Marshal(page)
						if strings.TrimSpace(string(v.Body)) != string(want) {
							t.Fatalf("%s, %s, cursor %q: cached page differs from List", when, who, cursor)
						}
						if cursor = page.NextCursor; cursor == "" {
							break
						}
					}
					window := annotations.ListQuery{FromMS: ptr[int64](20000), ToMS: ptr[int64](40000), Kind: "note"}
					page, err := w.svc.List(ctx, a, w.clip, window)
					if err != nil {
						t.Fatal(err)
					}
					v, err := w.svc.ListView(ctx, a, w.clip, window)
					if err != nil {
						t.Fatal(err)
					}
					if want, _ := json.Marshal(page); strings.TrimSpace(string(v.Body)) != string(want) {
						t.Fatalf("%s, %s: cached window differs from List", when, who)
					}
					sum, err := w.svc.Summarize(ctx, a, w.clip)
					if err != nil {
						t.Fatal(err)
					}
					sv, err := w.svc.SummaryView(ctx, a, w.clip)
					if err != nil {
						t.Fatal(err)
					}
					if want, _ := json.Marshal(sum); strings.TrimSpace(string(sv.Body)) != string(want) {
						t.Fatalf("%s, %s: cached summary differs from Summarize:\n%s\n%s", when, who, sv.Body, want)
					}
				}
			}
			check("before the backfill")
			n, err := w.svc.BackfillBodyHTML(ctx)
			if err != nil || n != 450 {
				t.Fatalf("backfill = %d, %v; want the 450 seeded rows", n, err)
			}
			var missing int
			if err := w.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM annotations WHERE body_html IS NULL`).Scan(&missing); err != nil || missing != 0 {
				t.Fatalf("rows without body_html after the backfill: %d, %v", missing, err)
			}
			check("after the backfill")
			if n, err := w.svc.BackfillBodyHTML(ctx); err != nil || n != 0 {
				t.Fatalf("second backfill = %d, %v", n, err)
			}
		})
	}
}

func TestETagMatches(t *testing.T) {
	t.Parallel()
	tag := `W/"12-abc"`
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`W/"12-abc"`, true},
		{`"12-abc"`, true},
		{`W/"11-abc"`, false},
		{`"x", W/"12-abc"`, true},
		{`*`, true},
		{`W/"12-ab"`, false},
	} {
		if got := annotations.ETagMatches(tc.header, tag); got != tc.want {
			t.Errorf("ETagMatches(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}
