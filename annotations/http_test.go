package annotations_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/httpx"
)

// sitePolicy is the Content-Security-Policy that server.securityHeaders
// sets on every response (without a media origin), before handlers run.
const sitePolicy = "default-src 'self'; img-src 'self' data: blob: https:; media-src 'self' blob: https:" +
	"; connect-src 'self' ws: wss: https:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"

// server mounts the handler like the real server does, with a test actor
// taken from the X-Test-User header.
func (w *world) server(t *testing.T) *httptest.Server {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Content-Security-Policy", sitePolicy)
			return next(c)
		}
	})
	g := e.Group("/api/v1", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if who := c.Request().Header.Get("X-Test-User"); who != "" {
				r := c.Request()
				c.SetRequest(r.WithContext(accounts.WithActor(r.Context(), w.who(who))))
			}
			return next(c)
		}
	})
	annotations.NewHandler(w.svc).Routes(g)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

type call struct {
	method, path, who, body string
	ctype                   string
	header                  map[string]string
}

func do(t *testing.T, srv *httptest.Server, c call) (int, string) {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+"/api/v1"+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.who != "" {
		req.Header.Set("X-Test-User", c.who)
	}
	if c.body != "" {
		ct := c.ctype
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHTTPAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			srv := w.server(t)
			ctx := context.Background()
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "shared", Criterion: "pacing"})
			note := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](2000), Body: "private", Visibility: "private"})
			reply, err := w.svc.CreateReply(ctx, w.coach, w.clip, ann.ID, annotations.ReplyInput{Body: "thread"})
			if err != nil {
				t.Fatal(err)
			}
			goal, err := w.svc.CreateGoal(ctx, w.owner, annotations.GoalInput{Title: "Better questions"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.AddEvidence(ctx, w.owner, goal.ID, annotations.EvidenceInput{ClipID: w.clip}); err != nil {
				t.Fatal(err)
			}
			c := "/clips/" + w.clip
			a := c + "/annotations/" + ann.ID
			importDoc := `{"items":[{"type":"Annotation","bodyValue":"imported","target":"urn:x#t=3,4"}]}`
			rubric := `{"title":"R","domains":[{"title":"D","criteria":[{"title":"C","levels":[{"label":"L","score":1}]}]}]}`
			// Expected status for owner, coach, peer, other, outsider, admin.
			rows := []struct {
				method, path, body string
				want               [6]int
			}{
				{"GET", c + "/annotations", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"POST", c + "/annotations", `{"start_ms": 5}`, [6]int{201, 201, 201, 404, 404, 404}},
				{"GET", a, "", [6]int{200, 200, 200, 404, 404, 404}},
				{"GET", c + "/annotations/" + note.ID, "", [6]int{404, 200, 404, 404, 404, 404}},
				{"PATCH", a, `{"body": "edited"}`, [6]int{403, 200, 403, 404, 404, 404}},
				{"GET", a + "/history", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"POST", a + "/replies", `{"body": "hi"}`, [6]int{201, 201, 201, 404, 404, 404}},
				{"PATCH", a + "/replies/" + reply.ID, `{"body": "edited"}`, [6]int{403, 200, 403, 404, 404, 404}},
				{"GET", c + "/summary", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"GET", c + "/annotations/export?format=csv", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"GET", c + "/annotations/export?format=report", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"POST", c + "/annotations/import?visibility=audience", importDoc, [6]int{201, 201, 201, 404, 404, 404}},
				{"PUT", c + "/reflection", `{"went_well": "pacing"}`, [6]int{200, 403, 403, 404, 404, 404}},
				// Others see no draft: "reflection": null, with the prompts.
				{"GET", c + "/reflection", "", [6]int{200, 200, 200, 404, 404, 404}},
				{"GET", "/users/" + w.owner.UserID + "/growth", "", [6]int{200, 200, 200, 200, 200, 200}},
				{"GET", "/rubrics", "", [6]int{200, 200, 200, 200, 200, 200}},
				{"GET", "/rubrics/" + w.rubricID, "", [6]int{200, 200, 200, 200, 200, 200}},
				{"GET", "/rubrics/" + w.rubricID + "/export?format=csv", "", [6]int{200, 200, 200, 200, 200, 200}},
				{"POST", "/rubrics", `{"group_id": "` + w.group + `", "title": "R", "domains": [{"title": "D", "criteria": [{"title": "C", "levels": []}]}]}`, [6]int{403, 201, 403, 400, 400, 201}},
				{"POST", "/rubrics/import?group_id=" + w.group, rubric, [6]int{403, 201, 403, 400, 400, 201}},
				{"GET", "/goals/" + goal.ID, "", [6]int{200, 200, 200, 404, 404, 404}},
				{"GET", "/goals?user_id=" + w.owner.UserID, "", [6]int{200, 200, 200, 200, 200, 200}},
				{"PATCH", "/goals/" + goal.ID, `{"status": "achieved"}`, [6]int{200, 403, 403, 404, 404, 404}},
				{"POST", "/goals/" + goal.ID + "/evidence", `{"clip_id": "` + w.clip + `"}`, [6]int{201, 403, 403, 404, 404, 404}},
				{"POST", "/goals", `{"title": "Mine"}`, [6]int{201, 201, 201, 201, 201, 201}},
				{"GET", "/search/annotations?q=shared", "", [6]int{200, 200, 200, 200, 200, 200}},
				{"POST", c + "/reflection/submit", "", [6]int{200, 403, 403, 404, 404, 404}},
				{"DELETE", a + "/replies/" + reply.ID, "", [6]int{403, 200, 403, 404, 404, 404}},
				// People act in the order owner, coach, peer…: once the coach
				// deleted it, only the coach still sees it (to restore it);
				// once restored, the peer sees it again but may not touch it.
				{"DELETE", a, "", [6]int{403, 200, 404, 404, 404, 404}},
				{"POST", a + "/restore", "", [6]int{404, 200, 403, 404, 404, 404}},
				{"PUT", "/rubrics/" + w.rubricID, rubric, [6]int{403, 403, 403, 403, 403, 200}},
				{"DELETE", "/rubrics/" + w.otherRubricID, "", [6]int{403, 403, 403, 403, 403, 200}},
			}
			for _, r := range rows {
				for i, who := range everyone {
					status, body := do(t, srv, call{method: r.method, path: r.path, who: who, body: r.body})
					if status != r.want[i] {
						t.Errorf("%s %s as %s = %d, want %d: %s", r.method, r.path, who, status, r.want[i], body)
					}
				}
				if status, _ := do(t, srv, call{method: r.method, path: r.path, body: r.body}); status != 401 {
					t.Errorf("%s %s without sign-in = %d, want 401", r.method, r.path, status)
				}
			}
		})
	}
}

func TestHTTPBadInput(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			srv := w.server(t)
			second := w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock)
			elsewhere := w.mustCreate(t, w.coach, second, annotations.AnnotationInput{StartMS: ptr[int64](1)})
			here := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1)})
			c := "/clips/" + w.clip + "/annotations"
			big := `{"start_ms": 1, "body": "` + strings.Repeat("a", 1<<20) + `"}`
			cases := []struct {
				name   string
				call   call
				status int
				part   string
			}{
				{"negative start", call{method: "POST", path: c, body: `{"start_ms": -1}`}, 400, `"start_ms":"must not be negative"`},
				{"start past the end", call{method: "POST", path: c, body: `{"start_ms": 60001}`}, 400, "past the end"},
				{"end past the end", call{method: "POST", path: c, body: `{"start_ms": 1, "end_ms": 90000}`}, 400, `"end_ms"`},
				{"end before start", call{method: "POST", path: c, body: `{"start_ms": 500, "end_ms": 100}`}, 400, "must be after start_ms"},
				{"criterion of another rubric", call{method: "POST", path: c, body: `{"start_ms": 1, "criterion": "uptake"}`}, 400, `"criterion"`},
				{"level not in criterion", call{method: "POST", path: c, body: `{"start_ms": 1, "criterion": "pacing", "level": "legendary"}`}, 400, `"level"`},
				{"1 MB body", call{method: "POST", path: c, body: big}, 400, "the limit is 10000 characters"},
				{"script in body", call{method: "POST", path: c, body: `{"start_ms": 1, "body": "<script>alert(1)</script><b onclick=x>hi</b>"}`}, 201, `"body_html":"\u003cp\u003e\u0026lt;script\u0026gt;alert(1)\u0026lt;/script\u0026gt;\u0026lt;b onclick=x\u0026gt;hi\u0026lt;/b\u0026gt;\u003c/p\u003e"`},
				{"invalid utf-8", call{method: "POST", path: c, body: "{\"start_ms\": 1, \"body\": \"\xff\xfe\"}"}, 400, "not valid UTF-8"},
				{"unknown field", call{method: "POST", path: c, body: `{"start_ms": 1, "colour": "red"}`}, 400, "colour"},
				{"not json", call{method: "POST", path: c, body: `{"start_ms": `}, 400, "invalid_json"},
				{"wrong content type", call{method: "POST", path: c, body: `start_ms=1`, ctype: "application/x-www-form-urlencoded"}, 415, "JSON"},
				{"reply to annotation of another clip", call{method: "POST", path: c + "/" + elsewhere.ID + "/replies", body: `{"body": "x"}`}, 404, "not found"},
				{"patch annotation through another clip", call{method: "PATCH", path: "/clips/" + second + "/annotations/" + here.ID, body: `{"body": "x"}`}, 404, "not found"},
				{"bad window", call{method: "GET", path: c + "?from_ms=abc"}, 400, "from_ms"},
				{"bad cursor", call{method: "GET", path: c + "?cursor=zzz"}, 400, "cursor"},
				{"bad export format", call{method: "GET", path: c + "/export?format=pdf"}, 400, "format"},
				{"bad vtt track", call{method: "GET", path: c + "/export?format=vtt&track=subtitles"}, 400, "track"},
				{"malformed import", call{method: "POST", path: c + "/import", body: `{"items":[{"type":"Annotation","target":{"source":"x","selector":{"type":"FragmentSelector","value":"t=-3"}}}]}`}, 400, "items[0].target.selector.value"},
				{"import not json", call{method: "POST", path: c + "/import", body: "{\n\n  oops"}, 400, "line 3"},
				{"malformed rubric csv", call{method: "POST", path: "/rubrics/import?format=csv&group_id=" + w.group, body: "rubric_title,rubric_description,domain_key,domain_title,domain_description,criterion_key,criterion_title,criterion_description,level_key,level_label,level_score,level_descriptor\nR,,d,D,,c,C,,l,L,high,\n", ctype: "text/csv"}, 400, "line 2: level_score"},
				{"malformed rubric json", call{method: "POST", path: "/rubrics/import?group_id=" + w.group, body: "{\"title\": \"x\",\n \"domains\": 5}"}, 400, "line 2"},
				{"growth bucket", call{method: "GET", path: "/users/" + w.owner.UserID + "/growth?bucket=year"}, 400, "bucket"},
				{"empty search", call{method: "GET", path: "/search/annotations?q="}, 400, `"q"`},
				{"NUL in a filter", call{method: "GET", path: c + "?tag=a%00b"}, 400, `"tag"`},
				{"NUL in search", call{method: "GET", path: "/search/annotations?q=%00"}, 400, `"q"`},
				{"NUL in a path ID", call{method: "GET", path: c + "/ab%00cd"}, 404, "not found"},
				{"invalid UTF-8 in export filter", call{method: "GET", path: c + "/export?format=csv&kinds=%ff"}, 400, "UTF-8"},
				{"rubric for a missing group", call{method: "POST", path: "/rubrics", body: `{"group_id": "nope", "title": "R", "domains": [{"title": "D", "criteria": [{"title": "C"}]}]}`}, 400, "group_id"},
			}
			for _, tc := range cases {
				tc.call.who = "coach"
				status, body := do(t, srv, tc.call)
				if status != tc.status || !strings.Contains(body, tc.part) {
					b := body
					if len(b) > 300 {
						b = b[:300]
					}
					t.Errorf("%s: %d %s; want %d containing %q", tc.name, status, b, tc.status, tc.part)
				}
			}
		})
	}
}

func TestHTTPIdempotentCreateAndPaging(t *testing.T) {
	t.Parallel()
	w := newWorld(t, dbs()[0])
	srv := w.server(t)
	c := "/clips/" + w.clip + "/annotations"
	first := call{method: "POST", path: c, who: "peer", body: `{"start_ms": 42, "body": "once"}`, header: map[string]string{"Idempotency-Key": "abc"}}
	s1, b1 := do(t, srv, first)
	s2, b2 := do(t, srv, first)
	if s1 != 201 || s2 != 200 || b1 != b2 {
		t.Fatalf("create twice = %d %s / %d %s", s1, b1, s2, b2)
	}
	for i := 0; i < 5; i++ {
		do(t, srv, call{method: "POST", path: c, who: "coach", body: fmt.Sprintf(`{"start_ms": %d}`, i*1000)})
	}
	var page annotations.Page
	_, body := do(t, srv, call{method: "GET", path: c + "?limit=4", who: "owner"})
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 4 || page.NextCursor == "" {
		t.Fatalf("page 1 = %s", body)
	}
	_, body = do(t, srv, call{method: "GET", path: c + "?limit=4&cursor=" + page.NextCursor, who: "owner"})
	page = annotations.Page{}
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 2 || page.NextCursor != "" {
		t.Fatalf("page 2 = %s", body)
	}
}

func TestExportFileNamesAndReportPolicy(t *testing.T) {
	t.Parallel()
	d := dbs()[0]
	w := newWorld(t, d)
	srv := w.server(t)
	exec(t, w.db, `UPDATE clips SET title = ? WHERE id = ?`, "Fractions lesson: Leçon 3!", w.clip)
	untitled := w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock)
	exec(t, w.db, `UPDATE clips SET title = ? WHERE id = ?`, "分数の授業", untitled)
	w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "Nice **pause**"})
	get := func(path string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", srv.URL+"/api/v1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Test-User", "coach")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
		return resp
	}
	const base = "fractions-lesson-lecon-3"
	cases := []struct {
		clip, query, want string
	}{
		{w.clip, "format=csv", `attachment; filename="` + base + `-feedback.csv"`},
		{w.clip, "format=vtt", `attachment; filename="` + base + `-feedback.vtt"`},
		{w.clip, "format=vtt&track=metadata", `attachment; filename="` + base + `-feedback.vtt"`},
		{w.clip, "format=vtt&track=chapters", `attachment; filename="` + base + `-chapters.vtt"`},
		{w.clip, "format=jsonld", `attachment; filename="` + base + `-feedback.jsonld"`},
		{w.clip, "", `attachment; filename="` + base + `-feedback.jsonld"`},
		{w.clip, "format=report", `inline; filename="` + base + `-report.html"`},
		{untitled, "format=csv", `attachment; filename="` + untitled + `-feedback.csv"`},
	}
	for _, c := range cases {
		resp := get("/clips/" + c.clip + "/annotations/export?" + c.query)
		if got := resp.Header.Get("Content-Disposition"); got != c.want {
			t.Errorf("%s: Content-Disposition %q, want %q", c.query, got, c.want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); c.query != "format=report" && csp != sitePolicy {
			t.Errorf("%s: policy changed to %q", c.query, csp)
		}
	}

	resp := get("/clips/" + w.clip + "/annotations/export?format=report")
	b, _ := io.ReadAll(resp.Body)
	page := string(b)
	// The page's one script, hashed the way a browser checks it.
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 1 || !strings.Contains(scripts[0][1], "getElementById('print')") {
		t.Fatalf("want one script that wires the Print button:\n%s", page)
	}
	sum := sha256.Sum256([]byte(scripts[0][1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := resp.Header.Get("Content-Security-Policy")
	if want := sitePolicy + "; script-src 'self' " + hash; csp != want {
		t.Fatalf("report policy\n%q, want the site's plus the script's hash\n%q", csp, want)
	}
	for _, dir := range strings.Split(csp, ";") {
		if strings.HasPrefix(strings.TrimSpace(dir), "script-src") && strings.Contains(dir, "unsafe") {
			t.Errorf("scripts are not limited to the hash: %q", dir)
		}
	}
	if !strings.Contains(page, `<button id="print" type="button">Print</button>`) || !strings.Contains(page, "Ctrl+P") ||
		regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`).MatchString(page) {
		t.Fatalf("Print needs a button without inline handlers and the keyboard hint:\n%s", page)
	}
}
