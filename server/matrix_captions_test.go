package server

import (
	"context"
	"strings"
)

// matrixVTT is a small caption file the matrix uploads.
const matrixVTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nWhat is a fraction?\n"

// captionsSeeded gives clip C an English track with a machine version, as
// the captions job would, so that reading, editing and reverting all have
// something to act on. It is idempotent.
func (w *world) captionsSeeded() {
	w.t.Helper()
	ctx := context.Background()
	var n int
	if err := w.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM caption_tracks WHERE clip_id = ? AND lang = 'en'`, w.clip).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	if n > 0 {
		return
	}
	if _, err := w.db.Writer().Exec(ctx, `INSERT INTO caption_tracks (clip_id, lang, label, current, has_machine, machine_engine, machine_cues, created_at, updated_at)
		VALUES (?, 'en', 'English', 'machine', TRUE, 'pocketsphinx', 1, 0, 0)`, w.clip); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.db.Writer().Exec(ctx, `INSERT INTO transcripts (clip_id, lang, version, engine, word_count, words_json, updated_at)
		VALUES (?, 'en', 'machine', 'pocketsphinx', 1, '{"version":1,"words":[{"start_ms":1000,"end_ms":1400,"text":"fractions","confidence":0.9}]}', 0)`, w.clip); err != nil {
		w.t.Fatal(err)
	}
	vtt := "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfractions\n"
	if err := w.srv.media.store.Put(ctx, "clips/"+w.clip+"/media/captions/en.vtt", strings.NewReader(vtt), int64(len(vtt)), ""); err != nil {
		w.t.Fatal(err)
	}
}

func seeded(path string) func(w *world, who string) string {
	return func(w *world, who string) string {
		w.captionsSeeded()
		return w.expand(path)
	}
}

// captionsMatrixRoutes: captions are read by whoever may view the clip and
// changed only by its owner (accounts.ClipEdit).
func captionsMatrixRoutes() []route {
	view := statuses(200, 200, 200, 404, 404, 401, 404)
	vtt := map[string]string{"Content-Type": "text/vtt"}
	return []route{
		{method: "GET", pattern: "/api/v1/clips/:id/captions", path: "/api/v1/clips/{C}/captions", want: view},
		{method: "GET", pattern: "/api/v1/clips/:id/captions/:lang", prepare: seeded("/api/v1/clips/{C}/captions/en.vtt"), want: view},
		{method: "PUT", pattern: "/api/v1/clips/:id/captions/:lang", prepare: seeded("/api/v1/clips/{C}/captions/en"), body: body(matrixVTT), headers: vtt,
			want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "DELETE", pattern: "/api/v1/clips/:id/captions/:lang", prepare: func(w *world, who string) string {
			// A fresh French track for every persona; only the owner removes it.
			res := w.doWith(w.people["owner"], "PUT", "/api/v1/clips/"+w.clip+"/captions/fr", matrixVTT, vtt)
			if res.status != 200 {
				w.t.Fatalf("upload French captions: %d %s", res.status, res.body)
			}
			return "/api/v1/clips/" + w.clip + "/captions/fr"
		}, want: statuses(204, 403, 403, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/captions/:lang/cues", prepare: seeded("/api/v1/clips/{C}/captions/en/cues"), want: view},
		{method: "PUT", pattern: "/api/v1/clips/:id/captions/:lang/cues", prepare: seeded("/api/v1/clips/{C}/captions/en/cues"),
			body: body(`{"cues":[{"start_ms":1000,"end_ms":3000,"text":"What is a fraction?"}]}`), want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "POST", pattern: "/api/v1/clips/:id/captions/:lang/revert", prepare: seeded("/api/v1/clips/{C}/captions/en/revert"),
			want: statuses(200, 403, 403, 404, 404, 401, 404)},
		// The matrix clip is not ready, so the owner passes the check and
		// hears why nothing is queued.
		{method: "POST", pattern: "/api/v1/clips/:id/captions/generate", path: "/api/v1/clips/{C}/captions/generate",
			want: statuses(409, 403, 403, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/captions/:lang/transcript", prepare: seeded("/api/v1/clips/{C}/captions/en/transcript"), want: view},
		{method: "GET", pattern: "/api/v1/search/transcripts", path: "/api/v1/search/transcripts?q=fraction", want: all(200, 401)},
	}
}
