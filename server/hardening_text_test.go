package server

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestUserTextIsChecked: every field a person writes refuses invalid UTF-8
// (which arrives through tus metadata, JSON decoding replaces it) and
// control characters, with a 400 naming the field, as annotations do.
func TestUserTextIsChecked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ann := w.annotationBy("coach")
	goal := w.goalOf("owner")
	meta := func(title string) map[string]string {
		return map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": "filename " +
			base64.StdEncoding.EncodeToString([]byte("lesson.mp4")) + ",filetype dmlkZW8vbXA0,title " + base64.StdEncoding.EncodeToString([]byte(title))}
	}
	for _, tc := range []struct {
		name, who, method, path, body string
		headers                       map[string]string
		status                        int
		want                          string
	}{
		{"clip title with an escape", "owner", "PATCH", "/api/v1/clips/{C}", `{"title":"Fractions \u001b[31m"}`, nil, 400, `"title":"must not contain control characters (found U+001B)"`},
		{"clip title with a newline", "owner", "PATCH", "/api/v1/clips/{C}", `{"title":"two\nlines"}`, nil, 400, `"title":"must not contain control characters`},
		{"clip title with NUL", "owner", "PATCH", "/api/v1/clips/{C}", `{"title":"nul\u0000"}`, nil, 400, `"title"`},
		{"clip description with NUL", "owner", "PATCH", "/api/v1/clips/{C}", `{"description":"a\u0000b"}`, nil, 400, `"description"`},
		{"clip description on lines", "owner", "PATCH", "/api/v1/clips/{C}", `{"description":"line one\nline two"}`, nil, 200, `line two`},
		{"upload title not UTF-8", "owner", "POST", "/api/v1/uploads", "", meta("Caf\xe9"), 400, "must be valid UTF-8"},
		{"upload title with a bell", "owner", "POST", "/api/v1/uploads", "", meta("ding\a"), 400, "control characters"},
		{"upload with a fine title", "owner", "POST", "/api/v1/uploads", "", meta("Café lesson"), 201, ""},
		{"group name with an escape", "owner", "POST", "/api/v1/groups", `{"name":"Cohort \u001b]0;x\u0007"}`, nil, 400, `"name":"must not contain control characters`},
		{"group description with NUL", "owner", "POST", "/api/v1/groups", `{"name":"Cohort","description":"\u0000"}`, nil, 400, `"description"`},
		{"group rename with a line separator", "facilitator", "PATCH", "/api/v1/groups/{G}", `{"name":"Cohort\u2028G"}`, nil, 400, `"name"`},
		{"rubric title with an escape", "facilitator", "POST", "/api/v1/rubrics", `{"group_id":"{G}",` + strings.Replace(testRubric, "Questioning", `Questioning\u001b`, 1)[1:], nil, 400, "control characters"},
		{"rubric level with NUL", "facilitator", "POST", "/api/v1/rubrics", `{"group_id":"{G}",` + strings.Replace(testRubric, "Emerging", `Emer\u0000ging`, 1)[1:], nil, 400, "control characters"},
		{"goal title with an escape", "owner", "POST", "/api/v1/goals", `{"title":"Wait \u001b","description":""}`, nil, 400, `"title"`},
		{"goal edit with NUL", "owner", "PATCH", "/api/v1/goals/" + goal, `{"title":"Wait","description":"\u0000"}`, nil, 400, `"description"`},
		{"reflection with an escape", "owner", "PUT", "/api/v1/clips/{C}/reflection", `{"went_well":"\u001b[2J","to_change":"","evidence":""}`, nil, 400, `"went_well"`},
		{"reply with NUL", "peer", "POST", "/api/v1/clips/{C}/annotations/" + ann + "/replies", `{"body":"ok\u0000"}`, nil, 400, `"body"`},
		{"tag with a control character", "coach", "POST", "/api/v1/clips/{C}/annotations", `{"start_ms":1,"body":"x","kind":"strength","visibility":"audience","tags":["a\u0007"]}`, nil, 400, `tags[0]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := w.doWith(w.people[tc.who], tc.method, w.expand(tc.path), w.expand(tc.body), tc.headers)
			if res.status != tc.status || !strings.Contains(res.body, tc.want) {
				t.Errorf("%d %.300s; want %d containing %q", res.status, res.body, tc.status, tc.want)
			}
		})
	}
}
