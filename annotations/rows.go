// Row helpers: how annotations are scanned from and written to the database.

package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// decodeTags reads the tags column. Most annotations have none, and "[]"
// is by far the most common value, so it skips the JSON decoder for it.
func decodeTags(tags string) []string {
	if tags == "[]" || tags == "" {
		return []string{}
	}
	var out []string
	if err := json.Unmarshal([]byte(tags), &out); err != nil || out == nil {
		return []string{}
	}
	return out
}

func scanAnnotation(sc interface{ Scan(...any) error }) (Annotation, error) {
	var a Annotation
	var end, score, deleted sql.NullInt64
	var rx, ry, rw, rh sql.NullFloat64
	var tags string
	var bodyHTML sql.NullString
	var created, updated int64
	err := sc.Scan(&a.ID, &a.ClipID, &a.Author.ID, &a.Author.Name, &a.StartMS, &end, &rx, &ry, &rw, &rh,
		&a.Body, &a.Kind, &a.Visibility, &tags, &a.RubricID, &a.RubricVersion, &a.Criterion, &a.CriterionTitle,
		&a.Level, &a.LevelLabel, &score, &a.Revision, &created, &updated, &deleted, &a.ReplyCount, &bodyHTML)
	if err != nil {
		return a, err
	}
	if end.Valid {
		a.EndMS = &end.Int64
	}
	if score.Valid {
		n := int(score.Int64)
		a.LevelScore = &n
	}
	if rx.Valid {
		a.Region = &Region{X: rx.Float64, Y: ry.Float64, W: rw.Float64, H: rh.Float64}
	}
	a.Tags = decodeTags(tags)
	// Rendered at write time; rows from before migration 0007 that the
	// backfill has not reached yet are rendered here.
	if bodyHTML.Valid {
		a.BodyHTML = bodyHTML.String
	} else {
		a.BodyHTML = RenderBody(a.Body)
	}
	a.CreatedAt, a.UpdatedAt, a.DeletedAt = sqldb.Time(created), sqldb.Time(updated), sqldb.NullTime(deleted)
	return a, nil
}

// loadAnnotation reads one annotation (deleted ones too); the caller checks
// who may see it.
func loadAnnotation(ctx context.Context, q sqldb.Q, annID string) (Annotation, error) {
	a, err := scanAnnotation(q.QueryRow(ctx, `SELECT `+annotationCols+annotationFrom+` WHERE a.id = ?`, annID))
	if errors.Is(err, sql.ErrNoRows) {
		return a, apperr.NotFound("annotation")
	}
	if err != nil {
		return a, fmt.Errorf("read annotation %s: %w", annID, err)
	}
	return a, nil
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func regionArgs(r *Region) []any {
	if r == nil {
		return []any{nil, nil, nil, nil}
	}
	return []any{r.X, r.Y, r.W, r.H}
}

func (c coding) args() []any {
	var score any
	if c.levelScore != nil {
		score = *c.levelScore
	}
	var version any
	if c.version > 0 {
		version = c.version
	}
	return []any{nullable(c.rubricID), version, nullable(c.criterion), nullable(c.criterionTitle), nullable(c.level), nullable(c.levelLabel), score}
}

// noteSpan keeps annotation_clip_spans an upper bound of the clip's range
// lengths (see ListQuery.FromMS). CASE instead of MAX()/GREATEST(), which
// are spelled differently on the two dialects.
func noteSpan(ctx context.Context, q sqldb.Q, clipID string, start int64, end *int64) error {
	if end == nil {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO annotation_clip_spans (clip_id, max_span_ms) VALUES (?, ?)
		ON CONFLICT (clip_id) DO UPDATE SET max_span_ms = CASE WHEN excluded.max_span_ms > annotation_clip_spans.max_span_ms
		THEN excluded.max_span_ms ELSE annotation_clip_spans.max_span_ms END`, clipID, *end-start)
	if err != nil {
		return fmt.Errorf("record range length on clip %s: %w", clipID, err)
	}
	return nil
}

func writeTags(ctx context.Context, q sqldb.Q, annID string, tags []string) error {
	if _, err := q.Exec(ctx, `DELETE FROM annotation_tags WHERE annotation_id = ?`, annID); err != nil {
		return fmt.Errorf("replace tags of %s: %w", annID, err)
	}
	for _, t := range tags {
		if _, err := q.Exec(ctx, `INSERT INTO annotation_tags (annotation_id, tag) VALUES (?, ?)`, annID, t); err != nil {
			return fmt.Errorf("tag %s: %w", annID, err)
		}
	}
	return nil
}

func (s *Service) byIdempotencyKey(ctx context.Context, q sqldb.Q, clipID, authorID, key string) (Annotation, bool, error) {
	a, err := scanAnnotation(q.QueryRow(ctx, `SELECT `+annotationCols+annotationFrom+`
		WHERE a.clip_id = ? AND a.author_id = ? AND a.idempotency_key = ?`, clipID, authorID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("read annotation by idempotency key: %w", err)
	}
	return a, true, nil
}
