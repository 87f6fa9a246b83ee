package server

import "fmt"

const testRubric = `{"title":"Questioning","description":"How questions open thinking","domains":[{"key":"q","title":"Questions",
"criteria":[{"key":"wait","title":"Wait time","levels":[{"key":"1","label":"Emerging","score":1},{"key":"2","label":"Secure","score":2}]}]}]}`

// postJSON sends a request as who and decodes the answer, failing the test
// unless it succeeded.
func (w *world) postJSON(who, method, path, body string, into any) {
	w.t.Helper()
	res := w.do(w.people[who], method, path, body)
	if res.status >= 300 {
		w.t.Fatalf("%s %s as %s: %d %s", method, path, who, res.status, res.body)
	}
	if into != nil {
		res.json(w.t, into)
	}
}

// annotationBy makes an audience annotation on clip C by who.
func (w *world) annotationBy(who string) string {
	var a struct {
		ID string `json:"id"`
	}
	w.postJSON(who, "POST", "/api/v1/clips/"+w.clip+"/annotations", `{"start_ms":1000,"body":"Waited five seconds after the question","kind":"strength","visibility":"audience"}`, &a)
	return a.ID
}

func (w *world) replyBy(who, annID string) string {
	var r struct {
		ID string `json:"id"`
	}
	w.postJSON(who, "POST", "/api/v1/clips/"+w.clip+"/annotations/"+annID+"/replies", `{"body":"Agreed"}`, &r)
	return r.ID
}

// groupRubric makes a rubric owned by group G (its facilitator does).
func (w *world) groupRubric() string {
	var r struct {
		ID string `json:"id"`
	}
	w.postJSON("facilitator", "POST", "/api/v1/rubrics", `{"group_id":"`+w.g+`",`+testRubric[1:], &r)
	return r.ID
}

func (w *world) goalOf(who string) string {
	var g struct {
		ID string `json:"id"`
	}
	w.postJSON(who, "POST", "/api/v1/goals", `{"title":"Longer wait time","description":"Wait 5 s after open questions"}`, &g)
	return g.ID
}

func annotationRoutes() []route {
	clipPath := func(suffix string) string { return "/api/v1/clips/{C}" + suffix }
	byCoach := func(suffix string) func(w *world, who string) string {
		return func(w *world, who string) string {
			return "/api/v1/clips/" + w.clip + "/annotations/" + w.annotationBy("coach") + suffix
		}
	}
	viewers := statuses(200, 200, 200, 404, 404, 401, 404)
	return []route{
		{method: "GET", pattern: "/api/v1/clips/:id/annotations", path: clipPath("/annotations"), want: viewers},
		{method: "POST", pattern: "/api/v1/clips/:id/annotations", path: clipPath("/annotations"), body: func(w *world) string {
			return fmt.Sprintf(`{"start_ms":2000,"body":"Clear instructions","kind":"strength","visibility":"audience","idempotency_key":"k%d"}`, w.seq.Add(1))
		}, want: statuses(201, 201, 201, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/annotations/export", path: clipPath("/annotations/export?format=csv"), want: viewers},
		{method: "POST", pattern: "/api/v1/clips/:id/annotations/import", path: clipPath("/annotations/import"), body: body(`{"@context":"http://www.w3.org/ns/anno.jsonld","type":"AnnotationCollection","items":[{"type":"Annotation","body":{"type":"TextualBody","value":"Imported note","format":"text/plain"},"target":{"source":"clip","selector":{"type":"FragmentSelector","conformsTo":"http://www.w3.org/TR/media-frags/","value":"t=1,2"}}}]}`),
			headers: map[string]string{"Content-Type": "application/ld+json"}, want: statuses(201, 201, 201, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/annotations/:aid", prepare: byCoach(""), want: viewers},
		{method: "PATCH", pattern: "/api/v1/clips/:id/annotations/:aid", prepare: byCoach(""), body: body(`{"body":"Waited six seconds"}`), want: statuses(403, 200, 403, 404, 404, 401, 404)},
		{method: "DELETE", pattern: "/api/v1/clips/:id/annotations/:aid", prepare: byCoach(""), want: statuses(403, 200, 403, 404, 404, 401, 404)},
		{method: "POST", pattern: "/api/v1/clips/:id/annotations/:aid/restore", prepare: func(w *world, who string) string {
			id := w.annotationBy("coach")
			w.postJSON("coach", "DELETE", "/api/v1/clips/"+w.clip+"/annotations/"+id, "", nil)
			return "/api/v1/clips/" + w.clip + "/annotations/" + id + "/restore"
		}, want: statuses(404, 200, 404, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/annotations/:aid/history", prepare: byCoach("/history"), want: viewers},
		{method: "POST", pattern: "/api/v1/clips/:id/annotations/:aid/replies", prepare: byCoach("/replies"), body: body(`{"body":"Thanks, I will keep doing that"}`), want: statuses(201, 201, 201, 404, 404, 401, 404)},
		{method: "PATCH", pattern: "/api/v1/clips/:id/annotations/:aid/replies/:rid", prepare: func(w *world, who string) string {
			a := w.annotationBy("coach")
			return "/api/v1/clips/" + w.clip + "/annotations/" + a + "/replies/" + w.replyBy("peer", a)
		}, body: body(`{"body":"Agreed, and the pause after it too"}`), want: statuses(403, 403, 200, 404, 404, 401, 404)},
		{method: "DELETE", pattern: "/api/v1/clips/:id/annotations/:aid/replies/:rid", prepare: func(w *world, who string) string {
			a := w.annotationBy("coach")
			return "/api/v1/clips/" + w.clip + "/annotations/" + a + "/replies/" + w.replyBy("peer", a)
		}, want: statuses(403, 403, 200, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/summary", path: clipPath("/summary"), want: viewers},
		{method: "PUT", pattern: "/api/v1/clips/:id/reflection", path: clipPath("/reflection"), body: body(`{"went_well":"Questions","to_change":"Pacing","evidence":"3:12"}`), want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "POST", pattern: "/api/v1/clips/:id/reflection/submit", path: clipPath("/reflection/submit"), want: statuses(200, 403, 403, 404, 404, 401, 404)},
		// After the owner submitted it, everyone who sees the clip reads it.
		{method: "GET", pattern: "/api/v1/clips/:id/reflection", path: clipPath("/reflection"), want: viewers},
		{method: "GET", pattern: "/api/v1/users/:uid/growth", path: "/api/v1/users/{owner}/growth", want: statuses(200, 200, 200, 200, 200, 401, 200)},
		{method: "GET", pattern: "/api/v1/rubrics", path: "/api/v1/rubrics", want: all(200, 401)},
		{method: "POST", pattern: "/api/v1/rubrics", path: "/api/v1/rubrics", body: func(w *world) string { return `{"group_id":"` + w.g + `",` + testRubric[1:] },
			want: statuses(403, 201, 403, 400, 400, 401, 201)},
		{method: "POST", pattern: "/api/v1/rubrics/import", path: "/api/v1/rubrics/import?group_id={G}", body: body(testRubric), want: statuses(403, 201, 403, 400, 400, 401, 201)},
		{method: "GET", pattern: "/api/v1/rubrics/:rid", prepare: func(w *world, who string) string { return "/api/v1/rubrics/" + w.groupRubric() }, want: statuses(200, 200, 200, 404, 404, 401, 200)},
		{method: "PUT", pattern: "/api/v1/rubrics/:rid", prepare: func(w *world, who string) string { return "/api/v1/rubrics/" + w.groupRubric() }, body: body(testRubric),
			want: statuses(403, 200, 403, 404, 404, 401, 200)},
		{method: "DELETE", pattern: "/api/v1/rubrics/:rid", prepare: func(w *world, who string) string { return "/api/v1/rubrics/" + w.groupRubric() },
			want: statuses(403, 200, 403, 404, 404, 401, 200)},
		{method: "GET", pattern: "/api/v1/rubrics/:rid/export", prepare: func(w *world, who string) string { return "/api/v1/rubrics/" + w.groupRubric() + "/export?format=csv" },
			want: statuses(200, 200, 200, 404, 404, 401, 200)},
		{method: "GET", pattern: "/api/v1/goals", path: "/api/v1/goals", want: all(200, 401)},
		{method: "POST", pattern: "/api/v1/goals", path: "/api/v1/goals", body: body(`{"title":"Check for understanding","description":"Exit tickets"}`), want: all(201, 401)},
		{method: "GET", pattern: "/api/v1/goals/:gid", prepare: func(w *world, who string) string { return "/api/v1/goals/" + w.goalOf("owner") }, want: statuses(200, 404, 404, 404, 404, 401, 404)},
		{method: "PATCH", pattern: "/api/v1/goals/:gid", prepare: func(w *world, who string) string { return "/api/v1/goals/" + w.goalOf("owner") }, body: body(`{"status":"achieved"}`),
			want: statuses(200, 404, 404, 404, 404, 401, 404)},
		{method: "POST", pattern: "/api/v1/goals/:gid/evidence", prepare: func(w *world, who string) string { return "/api/v1/goals/" + w.goalOf("owner") + "/evidence" },
			body: func(w *world) string { return `{"clip_id":"` + w.clip + `","note":"3:12 wait time"}` }, want: statuses(201, 404, 404, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/search/annotations", path: "/api/v1/search/annotations?q=question", want: all(200, 401)},
		// Without the websocket handshake the upgrade fails after authorization.
		{method: "GET", pattern: "/api/v1/clips/:id/live", path: clipPath("/live"), want: statuses(400, 400, 400, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/live/log", path: clipPath("/live/log"), want: viewers},
	}
}
