package server

// The attack suite: requests an attacker would send, each with the precise
// refusal it must get (status, error code, nothing of the victim's in the
// body). Its parts are TestAuthorizationMatrix (every route for every actor,
// matrix_test.go) and the TestAttack* tests in the attack_*_test.go files;
// the stored-XSS part is the Chromium test frontend/e2e/xss.test.mjs.
// TestAttackSuiteSize counts the cases (docs/security.md, "The attack suite").

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/id"
)

// attackParts are the Go parts of the suite with the number of cases each
// runs, computed from the same tables the tests run.
func attackParts() []struct {
	name  string
	cases int
} {
	return []struct {
		name  string
		cases int
	}{
		{"authorization matrix (routes x actors)", len(matrixRoutes()) * len(personas)},
		{"CSRF and cross-origin writes", len(stateChangingRoutes()) * len(csrfVariants)},
		{"cross-origin websocket upgrades", len(wsOriginCases())},
		{"IDOR with guessed and leaked IDs", len(idorCases())},
		{"live protocol (messages x actors)", len(liveCases()) + len(liveRefusedActors)},
		{"malformed, oversized, nested JSON and invalid UTF-8", jsonCaseCount()},
		{"tus headers", len(tusCases())},
		{"caption files", len(captionFileCases())},
		{"privacy settings, consent and retention input", len(privacyInputCases())},
		{"redaction plans", len(redactionPlanCases()) + 1},
		{"path traversal in upload filenames, media paths and object keys", len(uploadFilenameCases("/")) + len(mediaPathCases()) + len(objectKeyCases())},
	}
}

// TestAttackSuiteSize prints the number of attack cases per part and in
// all (go test -v -run TestAttackSuiteSize ./server/), and holds the suite
// to the size the issue asks for.
func TestAttackSuiteSize(t *testing.T) {
	total := 0
	for _, p := range attackParts() {
		if p.cases == 0 {
			t.Errorf("attack suite part %q has no cases", p.name)
		}
		t.Logf("attack suite: %s: %d cases", p.name, p.cases)
		total += p.cases
	}
	t.Logf("attack suite: %d cases", total)
	if total < 150 {
		t.Errorf("the attack suite has %d cases, fewer than 150", total)
	}
}

// allowedActor is a persona the row lets through (a 2xx), so that what the
// case tests is reached; the owner when nobody is.
func (r route) allowedActor() string {
	for _, who := range []string{"owner", "coach", "peer", "admin", "other", "outsider"} {
		if s := r.want[who]; s >= 200 && s < 300 {
			return who
		}
	}
	return "owner"
}

func isStateChanging(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// stateChangingRoutes are the matrix rows a browser session could be
// tricked into sending.
func stateChangingRoutes() []route {
	var out []route
	for _, r := range matrixRoutes() {
		if isStateChanging(r.method) {
			out = append(out, r)
		}
	}
	return out
}

// csrfVariants are the forged requests: a cookie without the CSRF header,
// with a wrong one, with the token of another of the victim's sessions
// (one it does not belong to), and with the right token sent from a page
// of another site.
var csrfVariants = []struct {
	name   string
	header func(w *world, who string) map[string]string
	code   string
}{
	{"no CSRF token", func(w *world, who string) map[string]string { return map[string]string{accounts.CSRFHeader: ""} }, "csrf_failed"},
	{"wrong CSRF token", func(w *world, who string) map[string]string {
		return map[string]string{accounts.CSRFHeader: strings.Repeat("0", len(w.people[who].session.CSRFToken))}
	}, "csrf_failed"},
	{"another session's CSRF token", func(w *world, who string) map[string]string {
		return map[string]string{accounts.CSRFHeader: w.people["outsider"].session.CSRFToken}
	}, "csrf_failed"},
	{"cross-origin page", func(w *world, who string) map[string]string {
		return map[string]string{"Origin": "http://evil.example"}
	}, "bad_origin"},
}

// TestAttackCSRF: every state-changing route, sent with the session cookie
// of someone who may use it, is refused without the right CSRF token or
// from another site's page, and changes nothing.
func TestAttackCSRF(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rs := stateChangingRoutes()
	t.Logf("attack suite: CSRF and cross-origin writes: %d cases", len(rs)*len(csrfVariants))
	for _, r := range rs {
		for _, v := range csrfVariants {
			who := r.allowedActor()
			path := w.expand(r.path)
			if r.prepare != nil {
				path = r.prepare(w, who)
			}
			b := ""
			if r.body != nil {
				b = r.body(w)
			}
			h := map[string]string{}
			for k, val := range r.headers {
				h[k] = val
			}
			for k, val := range v.header(w, who) {
				h[k] = val
			}
			p := w.people[who]
			if r.pattern == "/api/v1/auth/logout" {
				p = w.people[who+"#logout"]
			}
			res := w.doWith(p, r.method, path, b, h)
			what := r.method + " " + r.pattern + " as " + who + ", " + v.name
			if res.status != 403 {
				t.Errorf("%s: status %d, want 403: %s", what, res.status, res.body)
			}
			checkRefusal(t, what, res, v.code)
		}
	}
	// Nothing the forged requests asked for happened.
	if title := w.clipTitle(); title != "Fractions lesson" {
		t.Errorf("a forged PATCH renamed the clip to %q", title)
	}
	for _, check := range []struct{ path, text string }{
		{"/api/v1/groups/" + w.g, "Cohort G (spring)"},
		{"/api/v1/me/tokens", `"script"`},
		{"/api/v1/goals", "Check for understanding"},
		{"/api/v1/clips/" + w.clip + "/annotations", "Clear instructions"},
		{"/api/v1/clips/" + w.clip + "/reflection", "Pacing"},
	} {
		if res := w.do(w.people["owner"], "GET", check.path, ""); strings.Contains(res.body, check.text) {
			t.Errorf("a forged request was carried out: GET %s shows %s", check.path, check.text)
		}
	}
}

// clipTitle reads clip C's title as its owner.
func (w *world) clipTitle() string {
	w.t.Helper()
	var c struct{ Clip struct{ Title string } }
	res := w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip, "")
	if res.status != 200 {
		w.t.Fatalf("read clip C: %d %s", res.status, res.body)
	}
	res.json(w.t, &c)
	return c.Clip.Title
}

// idorCase is a request with an ID the attacker guessed or learned (while a
// member, from a shared link, from a log) for something they may not reach.
type idorCase struct {
	name   string
	who    string
	method string
	// path and body may use the placeholders of idorIDs.
	path, body string
	status     int
	code       string
	// absent is text of the victim's that a 200 answer must not contain.
	absent string
}

// idorIDs are the IDs an attacker knows: the victims' (clip C, the coach's
// annotation and the peer's reply on it, the owner's private note, goal and
// token, G's rubric), the attacker's own (the outsider's clip A with an
// annotation, a goal) and IDs nobody was given (guessed).
func (w *world) idorIDs() *strings.Replacer {
	t := w.t
	ctx := context.Background()
	ann := w.annotationBy("coach")
	reply := w.replyBy("peer", ann)
	var private struct{ ID string }
	w.postJSON("owner", "POST", "/api/v1/clips/"+w.clip+"/annotations", `{"start_ms":500,"body":"Waited five seconds, my own note","visibility":"private"}`, &private)
	tok, err := w.srv.Accounts.CreateToken(ctx, w.people["owner"].user.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	a := w.env.clip(w.people["outsider"], "Attacker clip", "").ID
	var ownAnn struct{ ID string }
	w.postJSON("outsider", "POST", "/api/v1/clips/"+a+"/annotations", `{"start_ms":100,"body":"mine","visibility":"audience"}`, &ownAnn)
	// Clip D, shared with G, has the owner's draft reflection: private
	// until submitted.
	d := w.env.clip(w.people["owner"], "Draft clip", w.g).ID
	w.postJSON("owner", "PUT", "/api/v1/clips/"+d+"/reflection", `{"went_well":"Draft thoughts only I read","to_change":"","evidence":""}`, nil)
	var ownGoal struct{ ID string }
	w.postJSON("outsider", "POST", "/api/v1/goals", `{"title":"Attacker goal"}`, &ownGoal)
	return strings.NewReplacer(
		"{C}", w.clip, "{G}", w.g, "{H}", w.h, "{A}", a, "{ownAnn}", ownAnn.ID, "{ownGoal}", ownGoal.ID,
		"{ann}", ann, "{reply}", reply, "{private}", private.ID, "{goal}", w.goalOf("owner"), "{token}", tok.ID,
		"{rubric}", w.groupRubric(), "{owner}", w.people["owner"].user.ID, "{peer}", w.people["peer"].user.ID,
		"{guess}", id.New(), "{D}", d,
	)
}

func idorCases() []idorCase {
	nf := func(name, who, method, path, body string) idorCase {
		return idorCase{name: name, who: who, method: method, path: path, body: body, status: 404, code: "not_found"}
	}
	var cs []idorCase
	// The removed peer kept every ID of G and clip C: each is now a 404.
	for _, p := range []struct{ method, path, body string }{
		{"GET", "/api/v1/clips/{C}", ""},
		{"PATCH", "/api/v1/clips/{C}", `{"title":"Taken"}`},
		{"GET", "/api/v1/clips/{C}/media/720p/index.m3u8", ""},
		{"GET", "/api/v1/clips/{C}/download", ""},
		{"GET", "/api/v1/clips/{C}/captions", ""},
		{"GET", "/api/v1/clips/{C}/summary", ""},
		{"GET", "/api/v1/clips/{C}/reflection", ""},
		{"GET", "/api/v1/clips/{C}/live/log", ""},
		{"GET", "/api/v1/clips/{C}/annotations", ""},
		{"GET", "/api/v1/clips/{C}/annotations/export?format=csv", ""},
		{"GET", "/api/v1/clips/{C}/annotations/{ann}", ""},
		{"GET", "/api/v1/clips/{C}/annotations/{ann}/history", ""},
		{"POST", "/api/v1/clips/{C}/annotations/{ann}/replies", `{"body":"still here"}`},
		{"PATCH", "/api/v1/clips/{C}/annotations/{ann}/replies/{reply}", `{"body":"changed"}`},
		{"DELETE", "/api/v1/clips/{C}/annotations/{ann}/replies/{reply}", ""},
		{"POST", "/api/v1/clips/{C}/annotations", `{"start_ms":1,"body":"still here"}`},
		{"GET", "/api/v1/groups/{G}", ""},
		{"POST", "/api/v1/groups/{G}/invitations", `{"role":"facilitator"}`},
		{"GET", "/api/v1/rubrics/{rubric}", ""},
		{"GET", "/api/v1/clips/{C}/redaction", ""},
		{"PUT", "/api/v1/clips/{C}/redaction", `{"boxes":[],"mutes":[]}`},
		{"POST", "/api/v1/clips/{C}/redaction/apply", ""},
		{"GET", "/api/v1/clips/{C}/redaction/original", ""},
	} {
		cs = append(cs, nf("removed peer, leaked ID", "removed", p.method, p.path, p.body))
	}
	// The outsider puts victims' IDs into routes of their own clip A: an ID
	// only counts under the clip it belongs to.
	for _, p := range []struct{ method, path, body string }{
		{"GET", "/api/v1/clips/{A}/annotations/{ann}", ""},
		{"PATCH", "/api/v1/clips/{A}/annotations/{ann}", `{"body":"rewritten"}`},
		{"DELETE", "/api/v1/clips/{A}/annotations/{ann}", ""},
		{"POST", "/api/v1/clips/{A}/annotations/{ann}/restore", ""},
		{"GET", "/api/v1/clips/{A}/annotations/{ann}/history", ""},
		{"POST", "/api/v1/clips/{A}/annotations/{ann}/replies", `{"body":"hijack"}`},
		{"GET", "/api/v1/clips/{A}/annotations/{private}", ""},
		{"PATCH", "/api/v1/clips/{A}/annotations/{ownAnn}/replies/{reply}", `{"body":"rewritten"}`},
		{"DELETE", "/api/v1/clips/{A}/annotations/{ownAnn}/replies/{reply}", ""},
		{"GET", "/api/v1/clips/{C}/annotations/{ownAnn}", ""},
	} {
		cs = append(cs, nf("victim's ID under the attacker's clip", "outsider", p.method, p.path, p.body))
	}
	// Members of G reach what is G's, not what is one person's.
	cs = append(cs,
		nf("coach reads the owner's private note", "coach", "GET", "/api/v1/clips/{C}/annotations/{private}", ""),
		nf("coach edits the owner's private note", "coach", "PATCH", "/api/v1/clips/{C}/annotations/{private}", `{"body":"seen"}`),
		nf("peer replies to the owner's private note", "peer", "POST", "/api/v1/clips/{C}/annotations/{private}/replies", `{"body":"seen"}`),
		nf("peer reads the private note's history", "peer", "GET", "/api/v1/clips/{C}/annotations/{private}/history", ""),
		nf("coach reads the owner's goal", "coach", "GET", "/api/v1/goals/{goal}", ""),
		nf("coach changes the owner's goal", "coach", "PATCH", "/api/v1/goals/{goal}", `{"status":"achieved"}`),
		nf("peer adds evidence to the owner's goal", "peer", "POST", "/api/v1/goals/{goal}/evidence", `{"clip_id":"{C}"}`),
		nf("coach revokes the owner's token", "coach", "DELETE", "/api/v1/me/tokens/{token}", ""),
		// Evidence names a clip in the body: a field error that reads the
		// same for clips that exist and clips that do not.
		idorCase{name: "outsider cites clip C as evidence", who: "outsider", method: "POST", path: "/api/v1/goals/{ownGoal}/evidence",
			body: `{"clip_id":"{C}","note":"theirs"}`, status: 400, code: "invalid_input"},
		idorCase{name: "outsider cites a guessed clip as evidence", who: "outsider", method: "POST", path: "/api/v1/goals/{ownGoal}/evidence",
			body: `{"clip_id":"{guess}","note":"theirs"}`, status: 400, code: "invalid_input"},
		idorCase{name: "outsider cites C's annotation as evidence", who: "outsider", method: "POST", path: "/api/v1/goals/{ownGoal}/evidence",
			body: `{"clip_id":"{A}","annotation_id":"{ann}"}`, status: 400, code: "invalid_input"},
		nf("H's facilitator changes the role of G's peer", "other", "PATCH", "/api/v1/groups/{H}/members/{peer}", `{"role":"facilitator"}`),
		nf("H's facilitator removes G's owner", "other", "DELETE", "/api/v1/groups/{H}/members/{owner}", ""),
		// The kept unredacted original is the owner's alone, even for the
		// clip's audience and the outsider's own clip route.
		idorCase{name: "coach downloads the kept unredacted original", who: "coach", method: "GET", path: "/api/v1/clips/{C}/redaction/original", status: 403, code: "forbidden"},
		idorCase{name: "peer reads where the students are hidden", who: "peer", method: "GET", path: "/api/v1/clips/{C}/redaction", status: 403, code: "forbidden"},
		nf("admin downloads the kept unredacted original", "admin", "GET", "/api/v1/clips/{C}/redaction/original", ""),
		nf("outsider applies a redaction to clip C", "outsider", "POST", "/api/v1/clips/{C}/redaction/apply", ""),
		idorCase{name: "G's peer manages G's members", who: "peer", method: "PATCH", path: "/api/v1/groups/{G}/members/{owner}", body: `{"role":"peer"}`, status: 403, code: "forbidden"},
	)
	// Guessed IDs get the answer of forbidden ones: an ID reveals nothing.
	for _, p := range []struct{ who, method, path string }{
		{"owner", "GET", "/api/v1/clips/{guess}"},
		{"owner", "DELETE", "/api/v1/clips/{guess}"},
		{"owner", "GET", "/api/v1/clips/{guess}/media/720p/index.m3u8"},
		{"owner", "GET", "/api/v1/clips/{C}/annotations/{guess}"},
		{"owner", "PATCH", "/api/v1/clips/{C}/annotations/{ann}/replies/{guess}"},
		{"owner", "GET", "/api/v1/goals/{guess}"},
		{"owner", "GET", "/api/v1/groups/{guess}"},
		{"owner", "GET", "/api/v1/rubrics/{guess}"},
		{"owner", "GET", "/api/v1/clips/{guess}/redaction"},
		{"owner", "GET", "/api/v1/clips/{guess}/redaction/original"},
		{"owner", "DELETE", "/api/v1/me/tokens/{guess}"},
		{"anonymous", "GET", "/api/v1/invitations/{guess}"},
		{"owner", "HEAD", "/api/v1/uploads/{guess}"},
	} {
		c := nf("guessed ID", p.who, p.method, p.path, "")
		if p.method == "PATCH" {
			c.body = `{"body":"x"}`
		}
		cs = append(cs, c)
	}
	// Lists and searches that take no ID show nothing of clip C to those
	// outside its audience.
	for _, p := range []struct{ who, path string }{
		{"outsider", "/api/v1/clips?scope=all"},
		{"removed", "/api/v1/clips?scope=shared"},
		{"outsider", "/api/v1/search/annotations?q=waited"},
		{"removed", "/api/v1/search/annotations?q=waited"},
		{"outsider", "/api/v1/search/transcripts?q=fractions"},
		{"outsider", "/api/v1/users/{owner}/growth"},
		{"removed", "/api/v1/users/{owner}/growth?bucket=clip"},
		{"outsider", "/api/v1/rubrics"},
		{"outsider", "/api/v1/goals"},
		{"removed", "/api/v1/groups"},
	} {
		cs = append(cs, idorCase{name: "list without the victim's data", who: p.who, method: "GET", path: p.path, status: 200})
	}
	// Members of G read G's feedback, never one person's private text.
	for _, p := range []struct{ who, path, absent string }{
		{"coach", "/api/v1/clips/{D}/reflection", "Draft thoughts"},
		{"peer", "/api/v1/clips/{D}/reflection", "Draft thoughts"},
		{"coach", "/api/v1/clips/{C}/annotations", "my own note"},
		{"peer", "/api/v1/clips/{C}/annotations?visibility=private", "my own note"},
		{"coach", "/api/v1/clips/{C}/annotations/export?format=csv", "my own note"},
		{"coach", "/api/v1/clips/{C}/annotations/export?format=vtt", "my own note"},
		{"peer", "/api/v1/clips/{C}/annotations/export?format=jsonld", "my own note"},
		{"coach", "/api/v1/search/annotations?q=own%20note", "my own note"},
		{"peer", "/api/v1/clips/{C}/live/log", "my own note"},
	} {
		cs = append(cs, idorCase{name: "private text stays private", who: p.who, method: "GET", path: p.path, status: 200, absent: p.absent})
	}
	return append(cs, privacyIDORCases()...)
}

// TestAttackIDOR: guessed and leaked IDs in every route that takes one.
func TestAttackIDOR(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.captionsSeeded()
	ids := w.idorIDs()
	cs := idorCases()
	t.Logf("attack suite: IDOR with guessed and leaked IDs: %d cases", len(cs))
	for _, c := range cs {
		headers := map[string]string{}
		if strings.HasPrefix(c.path, "/api/v1/uploads") {
			headers["Tus-Resumable"] = "1.0.0"
		}
		res := w.doWith(w.people[c.who], c.method, ids.Replace(c.path), ids.Replace(c.body), headers)
		what := c.name + ": " + c.method + " " + c.path + " as " + c.who
		if res.status != c.status {
			t.Errorf("%s: status %d, want %d: %s", what, res.status, c.status, res.body)
		}
		code := c.code
		if c.method == "HEAD" || strings.HasPrefix(c.path, "/api/v1/uploads") {
			code = ""
		}
		if c.absent == "" {
			// Members of G see G's data; the private-text cases check theirs.
			checkRefusal(t, what, res, code)
		}
		if c.absent != "" && strings.Contains(res.body, c.absent) {
			t.Errorf("%s: the answer shows %q: %.300s", what, c.absent, res.body)
		}
		if res.status == 200 && c.absent == "" {
			for _, v := range []string{"{C}", "{ann}", "{reply}", "{private}", "{goal}", "{rubric}", "{G}"} {
				if strings.Contains(res.body, ids.Replace(v)) {
					t.Errorf("%s: the answer shows the victim's %s: %.300s", what, v, res.body)
				}
			}
		}
	}
	// A forbidden ID and a guessed one get the same answer, word for word.
	for _, p := range []string{"/api/v1/clips/%s", "/api/v1/clips/%s/annotations", "/api/v1/goals/%s"} {
		id := "{C}"
		if strings.HasPrefix(p, "/api/v1/goals") {
			id = "{goal}"
		}
		real := w.do(w.people["outsider"], "GET", fmt.Sprintf(p, ids.Replace(id)), "")
		guess := w.do(w.people["outsider"], "GET", fmt.Sprintf(p, ids.Replace("{guess}")), "")
		if real.status != guess.status || real.body != guess.body {
			t.Errorf("GET %s tells an existing ID from a guessed one: %d %s vs %d %s", p, real.status, real.body, guess.status, guess.body)
		}
	}
	// What the forged writes aimed at is unchanged.
	var ann struct{ Body string }
	w.do(w.people["coach"], "GET", "/api/v1/clips/"+w.clip+"/annotations/"+ids.Replace("{ann}"), "").json(t, &ann)
	if ann.Body != "Waited five seconds after the question" {
		t.Errorf("the coach's annotation was changed to %q", ann.Body)
	}
	if res := w.do(w.people["owner"], "GET", "/api/v1/goals/"+ids.Replace("{goal}"), ""); strings.Contains(res.body, "achieved") {
		t.Errorf("the owner's goal was changed: %s", res.body)
	}
	m, err := w.srv.Accounts.Memberships(context.Background(), w.people["peer"].user.ID)
	if err != nil || m[w.g] != accounts.RolePeer || len(m) != 1 {
		t.Errorf("the peer's memberships changed: %v %v", m, err)
	}
}
