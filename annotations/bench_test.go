package annotations_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// seedMany writes n coded annotations on the world's clip with plain SQL
// (what the service would store, without one transaction each).
func seedMany(b testing.TB, w *world, n int) {
	b.Helper()
	crits := []string{"pacing", "questioning", "wait-time", "clarity-of-explanation"}
	levels := []string{"beginning", "developing", "proficient", "exemplary"}
	var sb strings.Builder
	var args []any
	flush := func() {
		if len(args) > 0 {
			exec(b, w.db, strings.TrimSuffix(sb.String(), ","), args...)
		}
		sb.Reset()
		args = args[:0]
		sb.WriteString(`INSERT INTO annotations (id, clip_id, author_id, start_ms, end_ms, body, kind, visibility, tags,
			rubric_id, rubric_version, criterion_key, criterion_title, level_key, level_label, level_score, created_at, updated_at) VALUES `)
	}
	flush()
	var maxSpan int64
	for i := 0; i < n; i++ {
		start := int64(i) * 60000 / int64(n)
		var end any
		if i%3 == 0 {
			e := min(start+5000, 60000)
			if e > start {
				end, maxSpan = e, max(maxSpan, e-start)
			}
		}
		sb.WriteString("(?, ?, ?, ?, ?, ?, ?, 'audience', '[]', ?, 1, ?, ?, ?, ?, ?, 0, 0),")
		args = append(args, id.New(), w.clip, w.coach.UserID, start, end, fmt.Sprintf("Moment %d with **bold** and a [link](https://example.org)", i),
			[]string{"strength", "suggestion", "question", "note"}[i%4], w.rubricID, crits[i%4], crits[i%4], levels[i%4], levels[i%4], i%4+1)
		if len(args) >= 250*17 {
			flush()
		}
	}
	flush()
	exec(b, w.db, `INSERT INTO annotation_clip_spans (clip_id, max_span_ms) VALUES (?, ?)`, w.clip, maxSpan)
	// PostgreSQL's autovacuum would analyze after this many inserts; a
	// filmroom SQLite database is never analyzed (stat4 samples make SQLite
	// re-prepare statements on every bind: scripts/benchannotations).
	if w.db.Dialect == sqldb.Postgres {
		exec(b, w.db, `ANALYZE`)
	}
}

// BenchmarkQueries measures the hot reads on a clip with 10,000
// annotations: go test -run '^$' -bench . ./annotations/
func BenchmarkQueries(b *testing.B) {
	for _, d := range dbs() {
		w := newWorld(b, d)
		seedMany(b, w, 10000)
		ctx := context.Background()
		b.Run(d.Name+"/page200", func(b *testing.B) {
			cursor := ""
			for b.Loop() {
				p, err := w.svc.List(ctx, w.peer, w.clip, annotations.ListQuery{Limit: 200, Cursor: cursor})
				if err != nil {
					b.Fatal(err)
				}
				cursor = p.NextCursor
			}
		})
		b.Run(d.Name+"/window60s", func(b *testing.B) {
			i := int64(0)
			for b.Loop() {
				from := i * 7000 % 54000
				i++
				if _, err := w.svc.List(ctx, w.peer, w.clip, annotations.ListQuery{Limit: 200, FromMS: &from, ToMS: ptr(from + 6000)}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(d.Name+"/summary", func(b *testing.B) {
			for b.Loop() {
				if _, err := w.svc.Summarize(ctx, w.peer, w.clip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHTTP measures the page and summary end to end through the
// handler (echo routing, authorization, the view cache or the queries,
// JSON), without a network: cached is the steady state of an unchanged
// clip; uncached computes every response, as after each change; 304 is a
// revalidation with If-None-Match.
func BenchmarkHTTP(b *testing.B) {
	for _, d := range dbs() {
		w := newWorld(b, d)
		seedMany(b, w, 10000)
		if _, err := w.svc.BackfillBodyHTML(context.Background()); err != nil {
			b.Fatal(err)
		}
		for _, cache := range []struct {
			name  string
			bytes int64
		}{{"cached", 0}, {"uncached", -1}} {
			svc := annotations.New(annotations.Config{DB: w.db, Clips: sqlClips{w.db}, Logger: slog.New(slog.DiscardHandler), ViewCacheBytes: cache.bytes})
			e := echo.New()
			g := e.Group("/api/v1", func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					r := c.Request()
					c.SetRequest(r.WithContext(accounts.WithActor(r.Context(), w.peer)))
					return next(c)
				}
			})
			annotations.NewHandler(svc).Routes(g)
			get := func(b *testing.B, path, inm string, want int) {
				req := httptest.NewRequest("GET", path, nil)
				if inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != want {
					b.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
				}
			}
			base := "/api/v1/clips/" + w.clip
			b.Run(d.Name+"/"+cache.name+"/page200", func(b *testing.B) {
				for b.Loop() {
					get(b, base+"/annotations?limit=200", "", 200)
				}
			})
			b.Run(d.Name+"/"+cache.name+"/summary", func(b *testing.B) {
				for b.Loop() {
					get(b, base+"/summary", "", 200)
				}
			})
			b.Run(d.Name+"/"+cache.name+"/summary304", func(b *testing.B) {
				v, err := svc.SummaryView(context.Background(), w.peer, w.clip)
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					get(b, base+"/summary", v.ETag, 304)
				}
			})
		}
	}
}
