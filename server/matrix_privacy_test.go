package server

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/privacy/policy"
)

// privacyMatrixRoutes: the site's privacy policy is the admins' to read
// and change (everyone signed in reads its public part); a clip's consent
// and download switch are its owner's; only the owner keeps a clip longer
// (with retention off, as in the matrix's world, there is nothing to
// extend: 409).
func privacyMatrixRoutes() []route {
	admin := statuses(403, 403, 403, 403, 403, 401, 200)
	return []route{
		{method: "GET", pattern: "/api/v1/privacy/policy", path: "/api/v1/privacy/policy", want: all(200, 401)},
		{method: "GET", pattern: "/api/v1/admin/privacy", path: "/api/v1/admin/privacy", want: admin},
		{method: "PUT", pattern: "/api/v1/admin/privacy", path: "/api/v1/admin/privacy", body: body(defaultPolicyJSON), want: admin},
		{method: "POST", pattern: "/api/v1/admin/privacy/retention/run", path: "/api/v1/admin/privacy/retention/run", want: admin},
		{method: "PUT", pattern: "/api/v1/clips/:id/privacy", path: "/api/v1/clips/{C}/privacy", body: body(`{"students_visible":"no","consent_note":"No faces in frame"}`),
			want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "POST", pattern: "/api/v1/clips/:id/keep", path: "/api/v1/clips/{C}/keep", body: body(`{}`), want: statuses(409, 403, 403, 404, 404, 401, 404)},
	}
}

const defaultPolicyJSON = `{"require_consent":false,"downloads_allowed":false,"retention":{"mode":"off","days":0,"date":"","warn_days":14,"allow_keep":false,"max_keep_days":0}}`

// privacyIDORCases: the removed peer and strangers cannot reach a clip's
// privacy settings by its ID, and a guessed ID answers as a forbidden one.
func privacyIDORCases() []idorCase {
	nf := func(name, who, method, path, body string) idorCase {
		return idorCase{name: name, who: who, method: method, path: path, body: body, status: 404, code: "not_found"}
	}
	return []idorCase{
		nf("the removed peer records consent", "removed", "PUT", "/api/v1/clips/{C}/privacy", `{"consent_on_file":true}`),
		nf("the removed peer keeps the clip", "removed", "POST", "/api/v1/clips/{C}/keep", `{}`),
		nf("outsider switches downloads on", "outsider", "PUT", "/api/v1/clips/{C}/privacy", `{"downloads_allowed":true}`),
		nf("outsider keeps the clip", "outsider", "POST", "/api/v1/clips/{C}/keep", `{"until":"2030-01-01"}`),
		nf("guessed ID", "owner", "PUT", "/api/v1/clips/{guess}/privacy", `{"consent_on_file":true}`),
		nf("guessed ID", "owner", "POST", "/api/v1/clips/{guess}/keep", `{}`),
		{name: "G's peer records consent", who: "peer", method: "PUT", path: "/api/v1/clips/{C}/privacy", body: `{"consent_on_file":true}`, status: 403, code: "forbidden"},
		{name: "G's coach switches downloads on", who: "coach", method: "PUT", path: "/api/v1/clips/{C}/privacy", body: `{"downloads_allowed":true}`, status: 403, code: "forbidden"},
	}
}

// privacyInputCase is a well-formed JSON request with a value out of range
// or of the wrong type, sent by someone allowed to make it.
type privacyInputCase struct {
	name, who, method, path, body string
	status                        int
	code                          string
}

func privacyInputCases() []privacyInputCase {
	pol := func(name, retention string) privacyInputCase {
		return privacyInputCase{name: name, who: "admin", method: "PUT", path: "/api/v1/admin/privacy",
			body: `{"require_consent":true,"downloads_allowed":false,"retention":` + retention + `}`, status: 400, code: "invalid_input"}
	}
	clip := func(name, body string) privacyInputCase {
		return privacyInputCase{name: name, who: "owner", method: "PUT", path: "/api/v1/clips/{C}/privacy", body: body, status: 400, code: "invalid_input"}
	}
	keep := func(name, body string) privacyInputCase {
		return privacyInputCase{name: name, who: "owner", method: "POST", path: "/api/v1/clips/{C}/keep", body: body, status: 400, code: "invalid_input"}
	}
	return []privacyInputCase{
		pol("zero retention days", `{"mode":"days","days":0,"warn_days":0}`),
		pol("negative retention days", `{"mode":"days","days":-30,"warn_days":0}`),
		pol("retention days beyond ten years", `{"mode":"days","days":3651,"warn_days":0}`),
		pol("warning longer than retention", `{"mode":"days","days":10,"warn_days":10}`),
		pol("negative warning days", `{"mode":"off","warn_days":-1}`),
		pol("warning days beyond a year", `{"mode":"off","warn_days":366}`),
		pol("unknown retention mode", `{"mode":"forever","warn_days":7}`),
		pol("month 13", `{"mode":"date","date":"13-01","warn_days":7}`),
		pol("February 30", `{"mode":"date","date":"02-30","warn_days":7}`),
		pol("February 29", `{"mode":"date","date":"02-29","warn_days":7}`),
		pol("date without leading zero", `{"mode":"date","date":"7-31","warn_days":7}`),
		pol("date with slashes", `{"mode":"date","date":"07/31","warn_days":7}`),
		pol("keep longer without a limit", `{"mode":"days","days":30,"warn_days":7,"allow_keep":true,"max_keep_days":0}`),
		pol("keep longer beyond ten years", `{"mode":"days","days":30,"warn_days":7,"allow_keep":true,"max_keep_days":99999}`),
		pol("days as a string", `{"mode":"days","days":"365","warn_days":7}`),
		pol("days as a fraction", `{"mode":"days","days":36.5,"warn_days":7}`),
		{name: "consent as a string", who: "admin", method: "PUT", path: "/api/v1/admin/privacy", body: `{"require_consent":"yes"}`, status: 400, code: "invalid_input"},
		{name: "an unknown setting", who: "admin", method: "PUT", path: "/api/v1/admin/privacy", body: `{"require_consent":true,"admins_see_everything":true}`, status: 400, code: "invalid_input"},
		clip("students visible maybe", `{"students_visible":"maybe"}`),
		clip("students visible as a boolean", `{"students_visible":true}`),
		clip("consent on file as a string", `{"consent_on_file":"yes"}`),
		clip("downloads as a number", `{"downloads_allowed":1}`),
		clip("a consent note too long", `{"consent_note":"`+strings.Repeat("n", 1001)+`"}`),
		clip("a control character in the note", `{"consent_note":"signed\u0000"}`),
		keep("a date in the past", `{"until":"2020-01-01"}`),
		keep("a date beyond the limit", `{"until":"9999-12-31"}`),
		keep("a date not in ISO form", `{"until":"31/07/2027"}`),
		keep("month 13", `{"until":"2027-13-01"}`),
		keep("a date as a number", `{"until":20270731}`),
	}
}

// TestAttackPrivacyInput: out-of-range days and dates, wrong types and
// unknown fields are refused as invalid input, and change nothing.
func TestAttackPrivacyInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Retention on, so that keep reaches its date checks.
	w.savePolicy(policy.Policy{Retention: policy.Retention{Mode: "days", Days: 365, WarnDays: 14, AllowKeep: true, MaxKeepDays: 30}})
	cs := privacyInputCases()
	t.Logf("attack suite: privacy settings, consent and retention input: %d cases", len(cs))
	before := w.do(w.people["admin"], "GET", "/api/v1/admin/privacy", "").body
	for _, c := range cs {
		res := w.do(w.people[c.who], c.method, w.expand(c.path), c.body)
		what := c.name + ": " + c.method + " " + c.path
		if res.status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", what, res.status, c.status, res.body)
		}
		checkRefusal(t, what, res, c.code)
	}
	if after := w.do(w.people["admin"], "GET", "/api/v1/admin/privacy", "").body; after != before {
		t.Errorf("a refused request changed the policy:\n%s\n%s", before, after)
	}
	var c struct {
		Clip struct {
			Privacy   map[string]any
			Retention struct {
				KeptUntil *time.Time `json:"kept_until"`
			}
		}
	}
	w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip, "").json(t, &c)
	if c.Clip.Privacy["students_visible"] != "unknown" || c.Clip.Privacy["downloads_allowed"] != false || c.Clip.Retention.KeptUntil != nil {
		t.Errorf("a refused request changed the clip: %+v", c.Clip)
	}
}

func (w *world) savePolicy(p policy.Policy) {
	w.t.Helper()
	if _, err := w.srv.Policy.Save(context.Background(), p, w.people["admin"].user.ID); err != nil {
		w.t.Fatal(err)
	}
}

// allowDownloads switches downloads on for the site and for the clip.
func (e *env) allowDownloads(clipID string) {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.srv.Policy.Fresh(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	p.DownloadsAllowed = true
	if _, err := e.srv.Policy.Save(ctx, p, ""); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET downloads_allowed = TRUE WHERE id = ?`, clipID); err != nil {
		e.t.Fatal(err)
	}
}

// TestDownloadsNeedSiteAndClip: downloads are off by default; the site's
// switch alone or the clip's alone is not enough; both let the clip's
// audience download (the same rule for the MP4 under /media/), and the
// owner's data export still holds their original.
func TestDownloadsNeedSiteAndClip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dl := "/api/v1/clips/" + w.clip + "/download"
	mp4 := "/api/v1/clips/" + w.clip + "/media/download.mp4"
	expect := func(step string, status int, text string) {
		t.Helper()
		for _, who := range []string{"owner", "coach", "peer"} {
			for _, path := range []string{dl, mp4} {
				res := w.do(w.people[who], "GET", path, "")
				if res.status != status || !strings.Contains(res.body, text) {
					t.Errorf("%s: GET %s as %s: %d %.200s, want %d with %q", step, path, who, res.status, res.body, status, text)
				}
			}
		}
	}
	expect("by default", 403, "downloads are turned off for this site")
	var c struct {
		Clip struct{ Privacy map[string]any }
	}
	w.postJSON("owner", "PUT", "/api/v1/clips/"+w.clip+"/privacy", `{"downloads_allowed":true}`, &c)
	if c.Clip.Privacy["can_download"] != false || c.Clip.Privacy["downloads_allowed"] != true {
		t.Errorf("clip switch alone: %v", c.Clip.Privacy)
	}
	expect("the clip allows, the site does not", 403, "downloads are turned off for this site")
	w.postJSON("admin", "PUT", "/api/v1/admin/privacy", strings.Replace(defaultPolicyJSON, `"downloads_allowed":false`, `"downloads_allowed":true`, 1), nil)
	expect("both allow", 200, "not really an mp4")
	w.postJSON("owner", "PUT", "/api/v1/clips/"+w.clip+"/privacy", `{"downloads_allowed":false}`, nil)
	expect("the site allows, the clip does not", 403, "the clip's owner has not allowed downloads")
	// The owner's own data export is their right, whatever the switches.
	if res := w.do(w.people["owner"], "GET", "/api/v1/me/export", ""); res.status != 200 {
		t.Errorf("data export: %d", res.status)
	}
	// Both switch changes are in the audit log.
	res := w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip+"/audit", "")
	if !strings.Contains(res.body, "downloads allowed: yes") || !strings.Contains(res.body, "downloads allowed: no") {
		t.Errorf("download switch not audited: %.500s", res.body)
	}
	admin := w.do(w.people["admin"], "GET", "/api/v1/admin/audit", "")
	if !strings.Contains(admin.body, "settings.change") || !strings.Contains(admin.body, "downloads_allowed: false → true") {
		t.Errorf("site setting change not audited: %.500s", admin.body)
	}
}

// TestConsentPolicyOverHTTP: with consent required, clip C (students
// visible unknown, no consent) is held back from the peer — page, media,
// captions and list — but not from the coach; sharing it is refused with
// what to do; an upload that would share such a clip is refused before it
// starts; recording consent opens it again.
func TestConsentPolicyOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	vtt := "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhalves and quarters\n"
	if res := w.doWith(w.people["owner"], "PUT", "/api/v1/clips/"+w.clip+"/captions/en", vtt, map[string]string{"Content-Type": "text/vtt"}); res.status >= 300 {
		t.Fatalf("put captions: %d %s", res.status, res.body)
	}
	search := "/api/v1/search/transcripts?q=quarters"
	if res := w.do(w.people["peer"], "GET", search, ""); !strings.Contains(res.body, w.clip) {
		t.Fatalf("before the policy the peer finds the clip's words: %s", res.body)
	}
	w.postJSON("admin", "PUT", "/api/v1/admin/privacy", strings.Replace(defaultPolicyJSON, `"require_consent":false`, `"require_consent":true`, 1), nil)
	if res := w.do(w.people["peer"], "GET", search, ""); res.status != 200 || strings.Contains(res.body, w.clip) {
		t.Errorf("under the policy the peer's transcript search finds the held-back clip: %d %s", res.status, res.body)
	}
	if res := w.do(w.people["coach"], "GET", search, ""); !strings.Contains(res.body, w.clip) {
		t.Errorf("under the policy the coach's transcript search misses the clip: %s", res.body)
	}
	var pub struct{ Policy policy.Public }
	w.do(w.people["peer"], "GET", "/api/v1/privacy/policy", "").json(t, &pub)
	if !pub.Policy.RequireConsent {
		t.Fatalf("public policy: %+v", pub)
	}
	paths := []string{"/api/v1/clips/{C}", "/api/v1/clips/{C}/media/720p/index.m3u8", "/api/v1/clips/{C}/captions", "/api/v1/clips/{C}/annotations"}
	for _, p := range paths {
		if res := w.do(w.people["peer"], "GET", w.expand(p), ""); res.status != 404 {
			t.Errorf("peer GET %s under the policy: %d", p, res.status)
		}
		if res := w.do(w.people["coach"], "GET", w.expand(p), ""); res.status != 200 {
			t.Errorf("coach GET %s under the policy: %d %.200s", p, res.status, res.body)
		}
	}
	if res := w.do(w.people["peer"], "GET", "/api/v1/clips?scope=shared", ""); strings.Contains(res.body, w.clip) {
		t.Errorf("the peer's list shows the held-back clip")
	}
	res := w.do(w.people["owner"], "PUT", "/api/v1/clips/"+w.clip+"/audience", `{"group_ids":["`+w.g+`"],"user_ids":["`+w.people["peer"].user.ID+`"]}`)
	if res.status != 409 || !strings.Contains(res.body, `"consent_required"`) || !strings.Contains(res.body, "record the consent") {
		t.Errorf("share without consent: %d %s", res.status, res.body)
	}
	meta := "filename " + b64("lesson.mp4") + ",filetype " + b64("video/mp4") + ",group_id " + b64(w.g) + ",students_visible " + b64("yes")
	up := w.doWith(w.people["owner"], "POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta})
	if up.status != 400 || !strings.Contains(up.body, "consent_required") { // tus answers 400 with the code
		t.Errorf("upload shared with a group without consent: %d %s", up.status, up.body)
	}
	meta = "filename " + b64("lesson.mp4") + ",filetype " + b64("video/mp4") + ",group_id " + b64(w.g) + ",students_visible " + b64("yes") + ",consent_on_file " + b64("true")
	if up := w.doWith(w.people["owner"], "POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta}); up.status != 201 {
		t.Errorf("upload with consent: %d %s", up.status, up.body)
	}
	meta = "filename " + b64("lesson.mp4") + ",students_visible " + b64("maybe")
	if up := w.doWith(w.people["owner"], "POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": meta}); up.status != 400 {
		t.Errorf("upload with students visible maybe: %d %s", up.status, up.body)
	}
	var c struct {
		Clip struct{ Privacy map[string]any }
	}
	w.postJSON("owner", "PUT", "/api/v1/clips/"+w.clip+"/privacy", `{"students_visible":"yes","consent_on_file":true,"consent_note":"Forms in the office"}`, &c)
	if c.Clip.Privacy["sharing_paused"] != false || c.Clip.Privacy["consent_note"] != "Forms in the office" {
		t.Errorf("after consent: %v", c.Clip.Privacy)
	}
	for _, p := range paths {
		if res := w.do(w.people["peer"], "GET", w.expand(p), ""); res.status != 200 {
			t.Errorf("peer GET %s with consent: %d", p, res.status)
		}
	}
	if res := w.do(w.people["peer"], "GET", "/api/v1/clips/"+w.clip, ""); strings.Contains(res.body, "Forms in the office") {
		t.Error("the peer reads the owner's consent note")
	}
	if res := w.do(w.people["owner"], "GET", "/api/v1/clips/"+w.clip+"/audit", ""); !strings.Contains(res.body, "clip.consent") {
		t.Errorf("consent change not in the clip's log: %.300s", res.body)
	}
}

// TestRetentionOverHTTP: the admin runs retention now; a clip past its
// date is warned first (the owner's clip page shows the date), kept longer
// by its owner within the limit, and deleted by a later run once its warned
// date has come.
func TestRetentionOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	old := w.clipFor()
	gone := w.clipFor()
	for _, id := range []string{old, gone} {
		if _, err := w.db.Writer().Exec(ctx, `UPDATE clips SET created_at = ? WHERE id = ?`, sqldb.Millis(time.Now().Add(-40*policy.Day)), id); err != nil {
			t.Fatal(err)
		}
	}
	w.postJSON("admin", "PUT", "/api/v1/admin/privacy", `{"retention":{"mode":"days","days":30,"warn_days":0,"allow_keep":true,"max_keep_days":30}}`, nil)
	var rep struct {
		Deleted, Warned []struct {
			ClipID string `json:"clip_id"`
		}
	}
	w.postJSON("admin", "POST", "/api/v1/admin/privacy/retention/run", "", &rep)
	if len(rep.Deleted) != 0 || len(rep.Warned) != 2 {
		t.Fatalf("first run: %+v", rep)
	}
	var c struct {
		Clip struct {
			Retention struct {
				DeleteAfter time.Time `json:"delete_after"`
				Warning     bool
				CanKeep     bool `json:"can_keep"`
			}
		}
	}
	w.do(w.people["owner"], "GET", "/api/v1/clips/"+old, "").json(t, &c)
	if !c.Clip.Retention.Warning || !c.Clip.Retention.CanKeep || c.Clip.Retention.DeleteAfter.After(time.Now().Add(time.Minute)) {
		t.Fatalf("warned clip: %+v", c.Clip.Retention)
	}
	if res := w.do(w.people["owner"], "POST", "/api/v1/clips/"+old+"/keep", `{"until":"`+time.Now().Add(30*policy.Day).Format(time.DateOnly)+`"}`); res.status != 400 {
		t.Errorf("keep beyond the limit: %d %s", res.status, res.body)
	}
	if res := w.do(w.people["coach"], "POST", "/api/v1/clips/"+old+"/keep", `{}`); res.status != 403 {
		t.Errorf("the coach kept the owner's clip: %d", res.status)
	}
	var kept struct {
		Clip struct {
			Retention struct {
				KeptUntil *time.Time `json:"kept_until"`
			}
		}
	}
	w.postJSON("owner", "POST", "/api/v1/clips/"+old+"/keep", `{"until":"`+time.Now().Add(10*policy.Day).Format(time.DateOnly)+`"}`, &kept)
	if kept.Clip.Retention.KeptUntil == nil {
		t.Fatalf("kept: %+v", kept)
	}
	w.postJSON("admin", "POST", "/api/v1/admin/privacy/retention/run", "", &rep)
	if len(rep.Deleted) != 1 || rep.Deleted[0].ClipID != gone {
		t.Fatalf("second run: %+v", rep)
	}
	if res := w.do(w.people["owner"], "GET", "/api/v1/clips/"+gone, ""); res.status != 404 {
		t.Errorf("the deleted clip: %d", res.status)
	}
	if res := w.do(w.people["owner"], "GET", "/api/v1/clips/"+old, ""); res.status != 200 {
		t.Errorf("the kept clip: %d", res.status)
	}
	res := w.do(w.people["owner"], "GET", "/api/v1/me/audit", "")
	var log map[string]any
	if err := json.Unmarshal([]byte(res.body), &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.body, `"clip.delete"`) || !strings.Contains(res.body, "retention policy") {
		t.Errorf("retention delete not in the owner's log: %.400s", res.body)
	}
}

// TestRetentionJobDaily: the hourly housekeeping applies retention on its
// first round and then once a day.
func TestRetentionJobDaily(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	old := w.clipFor()
	if _, err := w.db.Writer().Exec(ctx, `UPDATE clips SET created_at = ? WHERE id = ?`, sqldb.Millis(time.Now().Add(-40*policy.Day)), old); err != nil {
		t.Fatal(err)
	}
	w.savePolicy(policy.Policy{Retention: policy.Retention{Mode: "days", Days: 30, WarnDays: 0}})
	job := &retentionJob{clips: w.srv.Clips}
	exists := func() bool {
		return w.do(w.people["owner"], "GET", "/api/v1/clips/"+old, "").status == 200
	}
	start := time.Now()
	job.due(ctx, start, discardLog()) // warns (0 days ahead: deleted on the next run)
	if !exists() {
		t.Fatal("deleted on the run that warned")
	}
	job.due(ctx, start.Add(time.Hour), discardLog())
	if !exists() {
		t.Fatal("the job ran again within the day")
	}
	job.due(ctx, start.Add(25*time.Hour), discardLog())
	if exists() {
		t.Fatal("the next day's run did not delete the warned clip")
	}
}
