package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Reflection statuses.
const (
	ReflectionDraft     = "draft"
	ReflectionSubmitted = "submitted"
)

// Reflection is the clip owner's guided reflection on their lesson.
type Reflection struct {
	ClipID      string     `json:"clip_id"`
	AuthorID    string     `json:"author_id"`
	WentWell    string     `json:"went_well"`
	ToChange    string     `json:"to_change"`
	Evidence    string     `json:"evidence"`
	Status      string     `json:"status"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// ReflectionInput holds the answers to the guided prompts.
type ReflectionInput struct {
	WentWell string `json:"went_well"`
	ToChange string `json:"to_change"`
	Evidence string `json:"evidence"`
}

// ReflectionPrompts are the guiding questions shown with the form.
var ReflectionPrompts = map[string]string{
	"went_well": "What went well in this lesson, and how do you know?",
	"to_change": "What would you change next time, and why?",
	"evidence":  "Which moments in the clip show this? (Give times or link your annotations.)",
}

func (s *Service) loadReflection(ctx context.Context, q sqldb.Q, clipID string) (Reflection, error) {
	var r Reflection
	var sub sql.NullInt64
	var created, updated int64
	err := q.QueryRow(ctx, `SELECT clip_id, author_id, went_well, to_change, evidence, status, submitted_at, created_at, updated_at
		FROM reflections WHERE clip_id = ?`, clipID).Scan(&r.ClipID, &r.AuthorID, &r.WentWell, &r.ToChange, &r.Evidence,
		&r.Status, &sub, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errNoReflection
	}
	if err != nil {
		return r, fmt.Errorf("read reflection of clip %s: %w", clipID, err)
	}
	r.SubmittedAt, r.CreatedAt, r.UpdatedAt = sqldb.NullTime(sub), sqldb.Time(created), sqldb.Time(updated)
	return r, nil
}

// GetReflection returns the clip's reflection: to its owner always, to the
// clip's audience once it is submitted.
func (s *Service) GetReflection(ctx context.Context, a accounts.Actor, clipID string) (Reflection, error) {
	if err := requireActor(a); err != nil {
		return Reflection{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return Reflection{}, err
	}
	r, err := s.loadReflection(ctx, s.db.Reader(), clipID)
	if err != nil {
		return r, err
	}
	if clip.OwnerID != a.UserID && r.Status != ReflectionSubmitted {
		return Reflection{}, errNoReflection
	}
	return r, nil
}

// errNoReflection is "no reflection to show", told apart from a clip that
// does not exist or may not be seen (also a not-found error).
var errNoReflection = apperr.NotFound("reflection")

// ReflectionView is what GET /clips/:id/reflection shows: the reflection
// the actor may read, or nil when there is none yet (or, for others than
// the owner, none submitted) — so the page still gets its prompts.
func (s *Service) ReflectionView(ctx context.Context, a accounts.Actor, clipID string) (*Reflection, error) {
	r, err := s.GetReflection(ctx, a, clipID)
	if err == nil {
		return &r, nil
	}
	if errors.Is(err, errNoReflection) {
		return nil, nil
	}
	return nil, err
}

// SaveReflection stores the owner's answers (a draft until submitted; a
// submitted reflection may still be amended and stays submitted).
func (s *Service) SaveReflection(ctx context.Context, a accounts.Actor, clipID string, in ReflectionInput) (Reflection, error) {
	return s.writeReflection(ctx, a, clipID, &in, false)
}

// SubmitReflection marks the reflection submitted, which opens others'
// feedback to the owner on reflect-first clips.
func (s *Service) SubmitReflection(ctx context.Context, a accounts.Actor, clipID string) (Reflection, error) {
	return s.writeReflection(ctx, a, clipID, nil, true)
}

func (s *Service) writeReflection(ctx context.Context, a accounts.Actor, clipID string, in *ReflectionInput, submit bool) (Reflection, error) {
	if err := requireActor(a); err != nil {
		return Reflection{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return Reflection{}, err
	}
	if clip.OwnerID != a.UserID {
		return Reflection{}, apperr.Forbidden("only the teacher who owns the clip writes its reflection")
	}
	if in != nil {
		v := &apperr.Validation{}
		checkBody(v, "went_well", in.WentWell, false)
		checkBody(v, "to_change", in.ToChange, false)
		checkBody(v, "evidence", in.Evidence, false)
		if err := v.Err(); err != nil {
			return Reflection{}, err
		}
	}
	var out Reflection
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		now := sqldb.Millis(s.clock())
		cur, err := s.loadReflection(ctx, q, clipID)
		exists := err == nil
		if err != nil && !isNotFound(err) {
			return err
		}
		if !exists {
			cur = Reflection{Status: ReflectionDraft}
		}
		if in != nil {
			cur.WentWell, cur.ToChange, cur.Evidence = in.WentWell, in.ToChange, in.Evidence
		}
		var submitted any
		if cur.SubmittedAt != nil {
			submitted = sqldb.Millis(*cur.SubmittedAt)
		}
		if submit {
			if strings.TrimSpace(cur.WentWell+cur.ToChange+cur.Evidence) == "" {
				return apperr.Invalid("reflection", "answer at least one prompt before submitting")
			}
			if cur.Status != ReflectionSubmitted {
				cur.Status, submitted = ReflectionSubmitted, now
			}
		}
		if exists {
			_, err = q.Exec(ctx, `UPDATE reflections SET went_well = ?, to_change = ?, evidence = ?, status = ?, submitted_at = ?, updated_at = ?
				WHERE clip_id = ?`, cur.WentWell, cur.ToChange, cur.Evidence, cur.Status, submitted, now, clipID)
		} else {
			_, err = q.Exec(ctx, `INSERT INTO reflections (clip_id, author_id, went_well, to_change, evidence, status, submitted_at, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, clipID, a.UserID, cur.WentWell, cur.ToChange, cur.Evidence, cur.Status, submitted, now, now)
		}
		if err != nil {
			return fmt.Errorf("save reflection of clip %s: %w", clipID, err)
		}
		out, err = s.loadReflection(ctx, q, clipID)
		return err
	})
	return out, err
}

// Goal statuses.
const (
	GoalActive   = "active"
	GoalAchieved = "achieved"
	GoalDropped  = "dropped"
)

// Goal is a teacher's goal tied to rubric criteria, with clips and
// annotations attached as evidence over time.
type Goal struct {
	ID          string          `json:"id"`
	OwnerID     string          `json:"owner_id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Status      string          `json:"status"`
	Criteria    []GoalCriterion `json:"criteria"`
	Evidence    []Evidence      `json:"evidence"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// GoalCriterion names a criterion of a rubric.
type GoalCriterion struct {
	RubricID  string `json:"rubric_id"`
	Criterion string `json:"criterion"`
}

// Evidence is a clip, optionally one annotation of it, attached to a goal.
type Evidence struct {
	ID           string    `json:"id"`
	ClipID       string    `json:"clip_id"`
	AnnotationID string    `json:"annotation_id,omitempty"`
	Note         string    `json:"note,omitempty"`
	AddedBy      string    `json:"added_by"`
	CreatedAt    time.Time `json:"created_at"`
}

// GoalInput creates a goal.
type GoalInput struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Criteria    []GoalCriterion `json:"criteria"`
}

// GoalPatch changes a goal; absent fields stay.
type GoalPatch struct {
	Title       *string          `json:"title,omitempty"`
	Description *string          `json:"description,omitempty"`
	Status      *string          `json:"status,omitempty"`
	Criteria    *[]GoalCriterion `json:"criteria,omitempty"`
}

// EvidenceInput attaches evidence.
type EvidenceInput struct {
	ClipID       string `json:"clip_id"`
	AnnotationID string `json:"annotation_id,omitempty"`
	Note         string `json:"note,omitempty"`
}

const maxGoalCriteria = 20

func (s *Service) checkGoalCriteria(ctx context.Context, a accounts.Actor, v *apperr.Validation, cs []GoalCriterion) {
	if len(cs) > maxGoalCriteria {
		v.Add("criteria", "at most %d criteria", maxGoalCriteria)
		return
	}
	for i, c := range cs {
		f := fmt.Sprintf("criteria[%d]", i)
		r, err := s.GetRubric(ctx, a, c.RubricID, 0, "")
		if err != nil {
			v.Add(f+".rubric_id", "is not a rubric you can use")
			continue
		}
		if _, ok := r.Criterion(c.Criterion); !ok {
			v.Add(f+".criterion", "%q is not a criterion of rubric %q", c.Criterion, r.Title)
		}
	}
}

func checkGoalText(v *apperr.Validation, title, desc string) {
	checkText(v, "title", strings.TrimSpace(title), maxRubricTitle, true)
	checkBody(v, "description", desc, false)
}

// CreateGoal adds a goal for the actor.
func (s *Service) CreateGoal(ctx context.Context, a accounts.Actor, in GoalInput) (Goal, error) {
	if err := requireActor(a); err != nil {
		return Goal{}, err
	}
	v := &apperr.Validation{}
	checkGoalText(v, in.Title, in.Description)
	if in.Criteria == nil {
		in.Criteria = []GoalCriterion{}
	}
	s.checkGoalCriteria(ctx, a, v, in.Criteria)
	if err := v.Err(); err != nil {
		return Goal{}, err
	}
	crit, _ := json.Marshal(in.Criteria)
	gid := id.New()
	now := sqldb.Millis(s.clock())
	if _, err := s.db.Writer().Exec(ctx, `INSERT INTO goals (id, owner_id, title, description, status, criteria, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, gid, a.UserID, strings.TrimSpace(in.Title), in.Description, GoalActive, string(crit), now, now); err != nil {
		return Goal{}, fmt.Errorf("create goal: %w", err)
	}
	return s.GetGoal(ctx, a, gid)
}

func (s *Service) loadGoal(ctx context.Context, q sqldb.Q, goalID string) (Goal, error) {
	var g Goal
	var crit string
	var created, updated int64
	err := q.QueryRow(ctx, `SELECT id, owner_id, title, description, status, criteria, created_at, updated_at FROM goals WHERE id = ?`, goalID).
		Scan(&g.ID, &g.OwnerID, &g.Title, &g.Description, &g.Status, &crit, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return g, apperr.NotFound("goal")
	}
	if err != nil {
		return g, fmt.Errorf("read goal %s: %w", goalID, err)
	}
	if err := json.Unmarshal([]byte(crit), &g.Criteria); err != nil || g.Criteria == nil {
		g.Criteria = []GoalCriterion{}
	}
	g.CreatedAt, g.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	rows, err := q.Query(ctx, `SELECT id, clip_id, COALESCE(annotation_id, ''), note, added_by, created_at FROM goal_evidence
		WHERE goal_id = ? ORDER BY created_at, id`, goalID)
	if err != nil {
		return g, fmt.Errorf("read evidence of goal %s: %w", goalID, err)
	}
	defer rows.Close()
	g.Evidence = []Evidence{}
	for rows.Next() {
		var e Evidence
		var at int64
		if err := rows.Scan(&e.ID, &e.ClipID, &e.AnnotationID, &e.Note, &e.AddedBy, &at); err != nil {
			return g, fmt.Errorf("read evidence of goal %s: %w", goalID, err)
		}
		e.CreatedAt = sqldb.Time(at)
		g.Evidence = append(g.Evidence, e)
	}
	return g, rows.Err()
}

// visibleGoal trims a goal to what the actor may see: the owner sees all;
// anyone else sees the goal only when at least one evidence clip is shared
// with them, and only that evidence.
func (s *Service) visibleGoal(ctx context.Context, a accounts.Actor, g Goal) (Goal, bool, error) {
	if g.OwnerID == a.UserID {
		return g, true, nil
	}
	var keep []Evidence
	clipOK := map[string]bool{}
	for _, e := range g.Evidence {
		ok, seen := clipOK[e.ClipID]
		if !seen {
			_, err := s.clips.Authorize(ctx, a, accounts.ClipView, e.ClipID)
			if err != nil && !isNotFound(err) {
				return g, false, err
			}
			ok = err == nil
			clipOK[e.ClipID] = ok
		}
		if !ok {
			continue
		}
		if e.AnnotationID != "" {
			if _, _, err := s.readable(ctx, a, e.ClipID, e.AnnotationID); err != nil {
				if !isNotFound(err) {
					return g, false, err
				}
				continue
			}
		}
		keep = append(keep, e)
	}
	if len(keep) == 0 {
		return g, false, nil
	}
	g.Evidence = keep
	return g, true, nil
}

// GetGoal returns a goal the actor may see.
func (s *Service) GetGoal(ctx context.Context, a accounts.Actor, goalID string) (Goal, error) {
	if err := requireActor(a); err != nil {
		return Goal{}, err
	}
	g, err := s.loadGoal(ctx, s.db.Reader(), goalID)
	if err != nil {
		return g, err
	}
	g, ok, err := s.visibleGoal(ctx, a, g)
	if err != nil {
		return g, err
	}
	if !ok {
		return Goal{}, apperr.NotFound("goal")
	}
	return g, nil
}

// ListGoals returns ownerID's goals that the actor may see (ownerID ""
// means the actor's own), newest first.
func (s *Service) ListGoals(ctx context.Context, a accounts.Actor, ownerID string) ([]Goal, error) {
	if err := requireActor(a); err != nil {
		return nil, err
	}
	if ownerID == "" {
		ownerID = a.UserID
	}
	rows, err := s.db.Reader().Query(ctx, `SELECT id FROM goals WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT 500`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("list goals of %s: %w", ownerID, err)
	}
	var ids []string
	for rows.Next() {
		var gid string
		if err := rows.Scan(&gid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list goals of %s: %w", ownerID, err)
		}
		ids = append(ids, gid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list goals of %s: %w", ownerID, err)
	}
	out := []Goal{}
	for _, gid := range ids {
		g, err := s.GetGoal(ctx, a, gid)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// UpdateGoal changes a goal (its owner only).
func (s *Service) UpdateGoal(ctx context.Context, a accounts.Actor, goalID string, p GoalPatch) (Goal, error) {
	g, err := s.GetGoal(ctx, a, goalID)
	if err != nil {
		return g, err
	}
	if g.OwnerID != a.UserID {
		return g, apperr.Forbidden("only the goal's owner may change it")
	}
	v := &apperr.Validation{}
	if p.Title != nil {
		g.Title = strings.TrimSpace(*p.Title)
	}
	if p.Description != nil {
		g.Description = *p.Description
	}
	checkGoalText(v, g.Title, g.Description)
	if p.Status != nil {
		switch *p.Status {
		case GoalActive, GoalAchieved, GoalDropped:
			g.Status = *p.Status
		default:
			v.Add("status", "must be active, achieved or dropped")
		}
	}
	if p.Criteria != nil {
		g.Criteria = *p.Criteria
		if g.Criteria == nil {
			g.Criteria = []GoalCriterion{}
		}
		s.checkGoalCriteria(ctx, a, v, g.Criteria)
	}
	if err := v.Err(); err != nil {
		return g, err
	}
	crit, _ := json.Marshal(g.Criteria)
	if _, err := s.db.Writer().Exec(ctx, `UPDATE goals SET title = ?, description = ?, status = ?, criteria = ?, updated_at = ? WHERE id = ?`,
		g.Title, g.Description, g.Status, string(crit), sqldb.Millis(s.clock()), goalID); err != nil {
		return g, fmt.Errorf("update goal %s: %w", goalID, err)
	}
	return s.GetGoal(ctx, a, goalID)
}

// AddEvidence attaches a clip (and optionally one of its annotations) to
// the actor's goal; the actor must be able to see what they attach.
func (s *Service) AddEvidence(ctx context.Context, a accounts.Actor, goalID string, in EvidenceInput) (Goal, error) {
	g, err := s.GetGoal(ctx, a, goalID)
	if err != nil {
		return g, err
	}
	if g.OwnerID != a.UserID {
		return g, apperr.Forbidden("only the goal's owner may add evidence")
	}
	v := &apperr.Validation{}
	if utf8.RuneCountInString(in.Note) > 2000 {
		v.Add("note", "must be at most 2000 characters")
	}
	checkBody(v, "note", in.Note, false)
	if in.ClipID == "" {
		v.Add("clip_id", "is required")
	} else if _, err := s.clips.Authorize(ctx, a, accounts.ClipView, in.ClipID); err != nil {
		if !isNotFound(err) {
			return g, err
		}
		v.Add("clip_id", "is not a clip you can view")
	} else if in.AnnotationID != "" {
		if _, _, err := s.readable(ctx, a, in.ClipID, in.AnnotationID); err != nil {
			if !isNotFound(err) {
				return g, err
			}
			v.Add("annotation_id", "is not an annotation of that clip that you can see")
		}
	}
	if err := v.Err(); err != nil {
		return g, err
	}
	if _, err := s.db.Writer().Exec(ctx, `INSERT INTO goal_evidence (id, goal_id, clip_id, annotation_id, note, added_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id.New(), goalID, in.ClipID, nullable(in.AnnotationID), in.Note, a.UserID, sqldb.Millis(s.clock())); err != nil {
		return g, fmt.Errorf("add evidence to goal %s: %w", goalID, err)
	}
	return s.GetGoal(ctx, a, goalID)
}
