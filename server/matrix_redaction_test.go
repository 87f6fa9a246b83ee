package server

import (
	"context"
	"strings"
	"time"
)

// matrixPlan is a valid plan for the matrix clip once redactable makes it
// a four-second clip with picture and sound.
const matrixPlan = `{"boxes":[{"kind":"blur","start_ms":0,"end_ms":1000,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}],"mutes":[{"start_ms":0,"end_ms":500}]}`

// redactable gives clip C a length, picture and sound (the matrix clip has
// none), and a kept unredacted original for its owner. Idempotent.
func (w *world) redactable() {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.db.Writer().Exec(ctx, `UPDATE clips SET duration_ms = 4000, has_video = TRUE, has_audio = TRUE WHERE id = ?`, w.clip); err != nil {
		w.t.Fatal(err)
	}
	until := time.Now().Add(time.Hour).UnixMilli()
	if _, err := w.db.Writer().Exec(ctx, `INSERT INTO clip_redactions (clip_id, original_until, updated_at) VALUES (?, ?, 0)
		ON CONFLICT (clip_id) DO UPDATE SET original_until = excluded.original_until`, w.clip, until); err != nil {
		w.t.Fatal(err)
	}
	orig := "the unredacted upload"
	if err := w.srv.media.store.Put(ctx, "clips/"+w.clip+"/redaction/original", strings.NewReader(orig), int64(len(orig)), ""); err != nil {
		w.t.Fatal(err)
	}
}

func redactionPrepared(path string) func(w *world, who string) string {
	return func(w *world, who string) string {
		w.redactable()
		return w.expand(path)
	}
}

// redactionMatrixRoutes: a clip's redaction is its owner's alone
// (accounts.ClipEdit): the plan says where the people to hide are, and the
// kept original is what they were hidden from. Viewers are told they may
// not; strangers and admins find nothing.
func redactionMatrixRoutes() []route {
	owner := statuses(200, 403, 403, 404, 404, 401, 404)
	return []route{
		{method: "GET", pattern: "/api/v1/clips/:id/redaction", prepare: redactionPrepared("/api/v1/clips/{C}/redaction"), want: owner},
		{method: "PUT", pattern: "/api/v1/clips/:id/redaction", prepare: redactionPrepared("/api/v1/clips/{C}/redaction"), body: body(matrixPlan), want: owner},
		{method: "POST", pattern: "/api/v1/clips/:id/redaction/apply", prepare: redactionPrepared("/api/v1/clips/{C}/redaction/apply"),
			want: statuses(202, 403, 403, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/clips/:id/redaction/original", prepare: redactionPrepared("/api/v1/clips/{C}/redaction/original"), want: owner},
	}
}
