package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Annotation kinds.
const (
	KindStrength   = "strength"
	KindSuggestion = "suggestion"
	KindQuestion   = "question"
	KindNote       = "note"
)

// Visibilities: a private note is seen by its author only; an audience
// annotation by everyone who may view the clip (subject to reflect-first).
const (
	VisibilityPrivate  = "private"
	VisibilityAudience = "audience"
)

// Limits of what one annotation may hold.
const (
	MaxBodyChars   = 10000
	MaxTags        = 20
	MaxTagChars    = 40
	maxIdemKeyLen  = 200
	regionDecimals = 1e6 // regions are stored rounded to 1e-6 (0.0001 %)
)

// Person names an author.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Region is a rectangle of the frame in normalized coordinates: (0,0) is
// the top left, (1,1) the bottom right.
type Region struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Annotation is a time-stamped comment on a clip, as the API returns it.
// The same JSON travels in live events.
type Annotation struct {
	ID         string   `json:"id"`
	ClipID     string   `json:"clip_id"`
	Author     Person   `json:"author"`
	StartMS    int64    `json:"start_ms"`
	EndMS      *int64   `json:"end_ms"`
	Region     *Region  `json:"region"`
	Body       string   `json:"body"`
	BodyHTML   string   `json:"body_html"`
	Kind       string   `json:"kind"`
	Tags       []string `json:"tags"`
	Visibility string   `json:"visibility"`
	// The rubric coding, pinned to the rubric version it was made with.
	RubricID       string     `json:"rubric_id,omitempty"`
	RubricVersion  int        `json:"rubric_version,omitempty"`
	Criterion      string     `json:"criterion,omitempty"`
	CriterionTitle string     `json:"criterion_title,omitempty"`
	Level          string     `json:"level,omitempty"`
	LevelLabel     string     `json:"level_label,omitempty"`
	LevelScore     *int       `json:"level_score,omitempty"`
	Revision       int        `json:"revision"`
	ReplyCount     int        `json:"reply_count"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	DeletedAt      *time.Time `json:"deleted_at,omitempty"`
	// Replies is filled by Get only.
	Replies []Reply `json:"replies,omitempty"`
}

// AnnotationInput creates an annotation.
type AnnotationInput struct {
	StartMS    *int64   `json:"start_ms"`
	EndMS      *int64   `json:"end_ms,omitempty"`
	Region     *Region  `json:"region,omitempty"`
	Body       string   `json:"body"`
	Kind       string   `json:"kind,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Visibility string   `json:"visibility,omitempty"`
	// RubricID and RubricVersion are optional: the clip's rubric and its
	// current version are used; naming another rubric is an error.
	RubricID      string `json:"rubric_id,omitempty"`
	RubricVersion int    `json:"rubric_version,omitempty"`
	Criterion     string `json:"criterion,omitempty"`
	Level         string `json:"level,omitempty"`
	// IdempotencyKey makes a retried create return the first annotation
	// (per author and clip).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Opt is a JSON field that distinguishes absent, null and a value, for
// PATCH bodies.
type Opt[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON records that the field was present.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// AnnotationPatch changes an annotation; absent fields stay, null clears.
type AnnotationPatch struct {
	StartMS    *int64      `json:"start_ms,omitempty"`
	EndMS      Opt[int64]  `json:"end_ms"`
	Region     Opt[Region] `json:"region"`
	Body       *string     `json:"body,omitempty"`
	Kind       *string     `json:"kind,omitempty"`
	Tags       *[]string   `json:"tags,omitempty"`
	Visibility *string     `json:"visibility,omitempty"`
	Criterion  Opt[string] `json:"criterion"`
	Level      Opt[string] `json:"level"`
	// Revision, when given, must be the current revision (else 409), so
	// two editors cannot silently overwrite each other.
	Revision int `json:"revision,omitempty"`
}

const annotationCols = `a.id, a.clip_id, a.author_id, COALESCE(u.name, ''), a.start_ms, a.end_ms,
	a.region_x, a.region_y, a.region_w, a.region_h, a.body, a.kind, a.visibility, a.tags,
	COALESCE(a.rubric_id, ''), COALESCE(a.rubric_version, 0), COALESCE(a.criterion_key, ''), COALESCE(a.criterion_title, ''),
	COALESCE(a.level_key, ''), COALESCE(a.level_label, ''), a.level_score, a.revision, a.created_at, a.updated_at, a.deleted_at,
	(SELECT COUNT(*) FROM annotation_replies r WHERE r.annotation_id = a.id AND r.deleted_at IS NULL), a.body_html`

const annotationFrom = ` FROM annotations a LEFT JOIN users u ON u.id = a.author_id`

// HidesFeedback reports whether others' feedback on the clip is hidden from
// the actor: the clip asks its owner to reflect first and the owner has not
// submitted their reflection yet. The live rooms use it to filter events
// whose ActorID is not the viewer.
func (s *Service) HidesFeedback(ctx context.Context, a accounts.Actor, clip ClipInfo) (bool, error) {
	if !clip.ReflectFirst || a.UserID != clip.OwnerID {
		return false, nil
	}
	var status string
	err := s.db.Reader().QueryRow(ctx, `SELECT status FROM reflections WHERE clip_id = ?`, clip.ID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read reflection of clip %s: %w", clip.ID, err)
	}
	return status != ReflectionSubmitted, nil
}

// visible is the one read rule for an annotation: private notes only for
// their author, deleted ones only for their author (to undo), others'
// feedback not while reflect-first hides it.
func visible(a accounts.Actor, hidden bool, ann Annotation) bool {
	own := ann.Author.ID == a.UserID
	switch {
	case own:
		return true
	case ann.Visibility == VisibilityPrivate, ann.DeletedAt != nil, hidden:
		return false
	}
	return true
}

func annotationEvent(typ string, actor string, ann Annotation) (Event, error) {
	data, err := json.Marshal(ann)
	if err != nil {
		return Event{}, fmt.Errorf("encode annotation %s: %w", ann.ID, err)
	}
	e := Event{ClipID: ann.ClipID, Type: typ, ActorID: actor, Data: data}
	if ann.Visibility == VisibilityPrivate {
		e.OnlyUserID = ann.Author.ID
	}
	return e, nil
}

// Create adds an annotation to a clip. created is false when the
// idempotency key matched an earlier create, whose annotation is returned
// unchanged.
func (s *Service) Create(ctx context.Context, a accounts.Actor, clipID string, in AnnotationInput) (ann Annotation, created bool, err error) {
	if err := requireActor(a); err != nil {
		return ann, false, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipAnnotate, clipID)
	if err != nil {
		return ann, false, err
	}
	if in.IdempotencyKey != "" {
		if prev, ok, err := s.byIdempotencyKey(ctx, s.db.Reader(), clipID, a.UserID, in.IdempotencyKey); err != nil || ok {
			return prev, false, err
		}
	}
	row, err := s.prepare(ctx, clip, in)
	if err != nil {
		return ann, false, err
	}
	return s.insert(ctx, a, clipID, row, in.IdempotencyKey)
}

func (s *Service) insert(ctx context.Context, a accounts.Actor, clipID string, row annotationRow, idemKey string) (ann Annotation, created bool, err error) {
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		var err error
		ann, ev, err = s.insertTx(ctx, q, a, clipID, row, idemKey)
		return err
	})
	if idemKey != "" && sqldb.IsUniqueViolation(err) {
		// A concurrent retry with the same key won the race.
		prev, ok, lookupErr := s.byIdempotencyKey(ctx, s.db.Writer(), clipID, a.UserID, idemKey)
		if lookupErr == nil && ok {
			return prev, false, nil
		}
	}
	if err != nil {
		return ann, false, err
	}
	s.publish(ctx, ev)
	return ann, true, nil
}

// insertTx stores a validated annotation and appends its event in the
// caller's transaction; the caller publishes the event after commit.
func (s *Service) insertTx(ctx context.Context, q sqldb.Q, a accounts.Actor, clipID string, row annotationRow, idemKey string) (Annotation, Event, error) {
	annID := id.New()
	now := sqldb.Millis(s.clock())
	tags, _ := json.Marshal(row.tags)
	args := []any{annID, clipID, a.UserID, row.start, nullInt(row.end)}
	args = append(args, regionArgs(row.region)...)
	args = append(args, row.body, RenderBody(row.body), row.kind, row.visibility, string(tags))
	args = append(args, row.coding.args()...)
	args = append(args, nullable(idemKey), now, now)
	if _, err := q.Exec(ctx, `INSERT INTO annotations (id, clip_id, author_id, start_ms, end_ms,
		region_x, region_y, region_w, region_h, body, body_html, kind, visibility, tags,
		rubric_id, rubric_version, criterion_key, criterion_title, level_key, level_label, level_score,
		idempotency_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
		return Annotation{}, Event{}, fmt.Errorf("insert annotation on clip %s: %w", clipID, err)
	}
	if err := writeTags(ctx, q, annID, row.tags); err != nil {
		return Annotation{}, Event{}, err
	}
	if err := noteSpan(ctx, q, clipID, row.start, row.end); err != nil {
		return Annotation{}, Event{}, err
	}
	ann, err := loadAnnotation(ctx, q, annID)
	if err != nil {
		return ann, Event{}, err
	}
	ev, err := annotationEvent(EventAnnotationCreated, a.UserID, ann)
	if err != nil {
		return ann, ev, err
	}
	ev, err = AppendTx(ctx, q, ev)
	return ann, ev, err
}

// Get returns one annotation with its replies.
func (s *Service) Get(ctx context.Context, a accounts.Actor, clipID, annID string) (Annotation, error) {
	ann, _, err := s.readable(ctx, a, clipID, annID)
	if err != nil {
		return ann, err
	}
	if ann.Replies, err = s.replies(ctx, a, ann); err != nil {
		return ann, err
	}
	// The count matches the thread the viewer gets (reflect-first hides
	// others' replies from the clip owner).
	ann.ReplyCount = 0
	for _, r := range ann.Replies {
		if r.DeletedAt == nil {
			ann.ReplyCount++
		}
	}
	return ann, nil
}

// readable loads an annotation the actor may see on a clip they may view.
func (s *Service) readable(ctx context.Context, a accounts.Actor, clipID, annID string) (Annotation, ClipInfo, error) {
	if err := requireActor(a); err != nil {
		return Annotation{}, ClipInfo{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return Annotation{}, clip, err
	}
	ann, err := loadAnnotation(ctx, s.db.Reader(), annID)
	if err != nil {
		return ann, clip, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return ann, clip, err
	}
	if ann.ClipID != clipID || !visible(a, hidden, ann) {
		return Annotation{}, clip, apperr.NotFound("annotation")
	}
	return ann, clip, nil
}

// Update edits an annotation (its author only), keeping the previous state
// in the history.
func (s *Service) Update(ctx context.Context, a accounts.Actor, clipID, annID string, p AnnotationPatch) (Annotation, error) {
	cur, clip, err := s.readable(ctx, a, clipID, annID)
	if err != nil {
		return cur, err
	}
	if cur.DeletedAt != nil {
		return cur, apperr.NotFound("annotation")
	}
	if cur.Author.ID != a.UserID {
		return cur, apperr.Forbidden("only the author may edit an annotation")
	}
	if _, err := s.clips.Authorize(ctx, a, accounts.ClipAnnotate, clipID); err != nil {
		return cur, err
	}
	// Merge the patch into the current state and validate the result as a
	// whole, so an edit can never produce what a create would refuse.
	v := &apperr.Validation{}
	start, end, region := cur.StartMS, cur.EndMS, cur.Region
	if p.StartMS != nil {
		start = *p.StartMS
	}
	if p.EndMS.Set {
		end = nil
		if !p.EndMS.Null {
			e := p.EndMS.Value
			end = &e
		}
	}
	if p.Region.Set {
		region = nil
		if !p.Region.Null {
			r := p.Region.Value
			region = &r
		}
	}
	checkTimes(v, clip.DurationMS, &start, end)
	row := annotationRow{start: start, end: end, body: cur.Body, kind: cur.Kind, tags: cur.Tags, visibility: cur.Visibility}
	if p.Region.Set {
		row.region = checkRegion(v, region)
	} else {
		row.region = cur.Region
	}
	if p.Body != nil {
		checkBody(v, "body", *p.Body, false)
		row.body = *p.Body
	}
	if p.Kind != nil {
		checkKind(v, *p.Kind)
		row.kind = *p.Kind
	}
	if p.Visibility != nil {
		checkVisibility(v, *p.Visibility)
		row.visibility = *p.Visibility
	}
	if p.Tags != nil {
		row.tags = normTags(v, "tags", *p.Tags)
	}
	row.coding = coding{rubricID: cur.RubricID, version: cur.RubricVersion, criterion: cur.Criterion,
		criterionTitle: cur.CriterionTitle, level: cur.Level, levelLabel: cur.LevelLabel, levelScore: cur.LevelScore}
	if (p.Criterion.Set || p.Level.Set) && len(v.Fields) == 0 {
		crit, level := cur.Criterion, cur.Level
		if p.Criterion.Set {
			crit, level = p.Criterion.Value, "" // a new criterion drops the old level
		}
		if p.Level.Set {
			level = p.Level.Value
		}
		// Re-coding pins the clip rubric's current version.
		row.coding = s.code(ctx, v, clip, "", 0, crit, level)
	}
	if err := v.Err(); err != nil {
		return cur, err
	}
	tags, _ := json.Marshal(row.tags)
	var ann Annotation
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		before, err := loadAnnotation(ctx, q, annID)
		if err != nil {
			return err
		}
		if before.DeletedAt != nil {
			return apperr.NotFound("annotation")
		}
		if (p.Revision != 0 && p.Revision != before.Revision) || before.Revision != cur.Revision {
			return apperr.New(apperr.ErrConflict, "edit_conflict",
				fmt.Sprintf("the annotation changed meanwhile (now revision %d); reload it and apply your edit again", before.Revision))
		}
		if err := s.keepRevision(ctx, q, before.ID, clipID, before.Revision, before, a.UserID); err != nil {
			return err
		}
		args := []any{row.start, nullInt(row.end)}
		args = append(args, regionArgs(row.region)...)
		args = append(args, row.body, RenderBody(row.body), row.kind, row.visibility, string(tags))
		args = append(args, row.coding.args()...)
		args = append(args, sqldb.Millis(s.clock()), annID)
		if _, err := q.Exec(ctx, `UPDATE annotations SET start_ms = ?, end_ms = ?,
			region_x = ?, region_y = ?, region_w = ?, region_h = ?, body = ?, body_html = ?, kind = ?, visibility = ?, tags = ?,
			rubric_id = ?, rubric_version = ?, criterion_key = ?, criterion_title = ?, level_key = ?, level_label = ?, level_score = ?,
			revision = revision + 1, updated_at = ? WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("update annotation %s: %w", annID, err)
		}
		if err := writeTags(ctx, q, annID, row.tags); err != nil {
			return err
		}
		if err := noteSpan(ctx, q, clipID, row.start, row.end); err != nil {
			return err
		}
		if ann, err = loadAnnotation(ctx, q, annID); err != nil {
			return err
		}
		ev, err = annotationEvent(EventAnnotationUpdated, a.UserID, ann)
		if err != nil {
			return err
		}
		// A note that turned private must vanish for everyone else, so this
		// one update travels to all (they saw its body until now); clients
		// drop a private annotation that is not theirs.
		if before.Visibility == VisibilityAudience && ann.Visibility == VisibilityPrivate {
			ev.OnlyUserID = ""
		}
		ev, err = AppendTx(ctx, q, ev)
		return err
	})
	if err != nil {
		return ann, err
	}
	s.publish(ctx, ev)
	return ann, nil
}

// Delete soft-deletes an annotation (its author only); Restore undoes it.
func (s *Service) Delete(ctx context.Context, a accounts.Actor, clipID, annID string) (Annotation, error) {
	return s.setDeleted(ctx, a, clipID, annID, true)
}

// Restore brings back a deleted annotation; the event is a fresh
// annotation.created so that clients show it again.
func (s *Service) Restore(ctx context.Context, a accounts.Actor, clipID, annID string) (Annotation, error) {
	return s.setDeleted(ctx, a, clipID, annID, false)
}

func (s *Service) setDeleted(ctx context.Context, a accounts.Actor, clipID, annID string, del bool) (Annotation, error) {
	cur, _, err := s.readable(ctx, a, clipID, annID)
	if err != nil {
		return cur, err
	}
	if cur.Author.ID != a.UserID {
		return cur, apperr.Forbidden("only the author may delete or restore an annotation")
	}
	if (cur.DeletedAt != nil) == del {
		return cur, nil // already in the asked-for state
	}
	var ann Annotation
	var ev Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		now := sqldb.Millis(s.clock())
		var err error
		if del {
			_, err = q.Exec(ctx, `UPDATE annotations SET deleted_at = ?, deleted_by = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL`, now, a.UserID, now, annID)
		} else {
			_, err = q.Exec(ctx, `UPDATE annotations SET deleted_at = NULL, deleted_by = NULL, updated_at = ? WHERE id = ?`, now, annID)
		}
		if err != nil {
			return fmt.Errorf("delete annotation %s: %w", annID, err)
		}
		if ann, err = loadAnnotation(ctx, q, annID); err != nil {
			return err
		}
		typ := EventAnnotationDeleted
		if !del {
			typ = EventAnnotationCreated
		}
		if ev, err = annotationEvent(typ, a.UserID, ann); err != nil {
			return err
		}
		ev, err = AppendTx(ctx, q, ev)
		return err
	})
	if err != nil {
		return ann, err
	}
	s.publish(ctx, ev)
	return ann, nil
}
