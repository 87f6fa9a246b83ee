package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

type fixture struct {
	owner, coach accounts.Actor
	bigClip      string
	rubricID     string
	// criterion is one criterion key of the rubric, for the writer.
	criterion string
}

func seed(ctx context.Context, db *sqldb.DB, svc *annotations.Service, cfg config) (fixture, error) {
	var f fixture
	if err := svc.SeedStarterRubrics(ctx); err != nil {
		return f, err
	}
	var rubricID string
	if err := db.Reader().QueryRow(ctx, `SELECT id FROM rubrics WHERE slug = 'microteaching-feedback'`).Scan(&rubricID); err != nil {
		return f, err
	}
	r, err := svc.GetRubric(ctx, accounts.Actor{UserID: "x", Admin: true}, rubricID, 0, "")
	if err != nil {
		return f, err
	}
	type code struct {
		key, title, level, label string
		score                    int
	}
	var codes []code
	for _, d := range r.Domains {
		for _, c := range d.Criteria {
			for _, l := range c.Levels {
				codes = append(codes, code{c.Key, c.Title, l.Key, l.Label, l.Score})
			}
		}
	}
	f.owner = accounts.Actor{UserID: id.New(), Name: "Teacher"}
	f.coach = accounts.Actor{UserID: id.New(), Name: "Coach"}
	group := id.New()
	err = db.Tx(ctx, func(q sqldb.Q) error {
		for _, u := range []accounts.Actor{f.owner, f.coach} {
			if _, err := q.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, ?, 'x', 0, 0)`, u.UserID, u.UserID+"@example.org", u.Name); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, `INSERT INTO groups (id, name, created_at) VALUES (?, 'Bench', 0)`, group); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO group_members (group_id, user_id, role, created_at) VALUES (?, ?, 'teacher', 0), (?, ?, 'coach', 0)`, group, f.owner.UserID, group, f.coach.UserID)
		return err
	})
	if err != nil {
		return f, fmt.Errorf("seed people: %w", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	addClip := func(n int, duration int64, at time.Time) (string, error) {
		cid := id.New()
		err := db.Tx(ctx, func(q sqldb.Q) error {
			if _, err := q.Exec(ctx, `INSERT INTO clips (id, owner_id, title, status, duration_ms, rubric_id, group_id, created_at, updated_at)
				VALUES (?, ?, 'Lesson', 'ready', ?, ?, ?, ?, ?)`, cid, f.owner.UserID, duration, rubricID, group, sqldb.Millis(at), sqldb.Millis(at)); err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `INSERT INTO clip_audience_groups (clip_id, group_id) VALUES (?, ?)`, cid, group); err != nil {
				return err
			}
			const batch = 250
			for i := 0; i < n; i += batch {
				var sb strings.Builder
				var args []any
				sb.WriteString(`INSERT INTO annotations (id, clip_id, author_id, start_ms, end_ms, body, kind, visibility, tags,
					rubric_id, rubric_version, criterion_key, criterion_title, level_key, level_label, level_score, created_at, updated_at) VALUES `)
				for j := i; j < min(i+batch, n); j++ {
					if j > i {
						sb.WriteString(", ")
					}
					sb.WriteString("(?, ?, ?, ?, ?, ?, ?, 'audience', '[]', ?, 1, ?, ?, ?, ?, ?, ?, ?)")
					start := rng.Int64N(duration)
					var end any
					if j%3 == 0 {
						end = min(start+1000+rng.Int64N(30000), duration)
						if end.(int64) <= start {
							end = nil
						}
					}
					c := codes[rng.IntN(len(codes))]
					kind := []string{"strength", "suggestion", "question", "note"}[j%4]
					now := sqldb.Millis(at) + int64(j)
					args = append(args, id.New(), cid, f.coach.UserID, start, end,
						fmt.Sprintf("Moment %d: the **%s** here was worth a look.", j, strings.ToLower(c.title)), kind,
						rubricID, c.key, c.title, c.level, c.label, c.score, now, now)
				}
				if _, err := q.Exec(ctx, sb.String(), args...); err != nil {
					return err
				}
			}
			// What the service records on every create (see noteSpan).
			_, err := q.Exec(ctx, `INSERT INTO annotation_clip_spans (clip_id, max_span_ms)
				SELECT clip_id, MAX(end_ms - start_ms) FROM annotations WHERE clip_id = ? AND end_ms IS NOT NULL GROUP BY clip_id`, cid)
			return err
		})
		return cid, err
	}
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	f.rubricID, f.criterion = rubricID, codes[0].key
	if f.bigClip, err = addClip(cfg.big, 3600000, start); err != nil {
		return f, fmt.Errorf("seed big clip: %w", err)
	}
	for i := 0; i < cfg.small; i++ {
		if _, err := addClip(cfg.perSmall, 600000, start.Add(time.Duration(i)*24*time.Hour)); err != nil {
			return f, fmt.Errorf("seed clip %d: %w", i, err)
		}
	}
	// The rows were written as before migration 0007 (no body_html); the
	// backfill renders them as an upgraded server does.
	t0 := time.Now()
	n, err := svc.BackfillBodyHTML(ctx)
	if err != nil {
		return f, err
	}
	fmt.Printf("-- body_html backfill: %d annotations in %s\n", n, time.Since(t0).Round(time.Millisecond))
	// Statistics as a running server has them. PostgreSQL's autovacuum
	// analyzes a table after this many inserts. filmroom never runs ANALYZE
	// on SQLite, and must not: the driver is built with SQLITE_ENABLE_STAT4,
	// and with stat4 samples SQLite re-prepares a statement every time a
	// parameter that could change its plan is bound, which made re-parsing
	// a quarter of the CPU of a loaded, cached request (docs/benchmarks.md).
	if db.Dialect == sqldb.Postgres {
		_, err = db.Writer().Exec(ctx, `ANALYZE`)
	}
	return f, err
}
