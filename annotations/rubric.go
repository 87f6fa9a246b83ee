package annotations

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
)

// Rubric is one version of a rubric: the rubric's identity and status plus
// the content of the version asked for (the current one unless a version
// was named).
type Rubric struct {
	ID string `json:"id"`
	// GroupID is the owning group; empty for a site rubric (admins edit).
	GroupID string `json:"group_id,omitempty"`
	// Slug names starter rubrics so seeding is idempotent.
	Slug          string     `json:"slug,omitempty"`
	Version       int        `json:"version"`
	LatestVersion int        `json:"latest_version"`
	CreatedAt     time.Time  `json:"created_at"`
	VersionAt     time.Time  `json:"version_created_at"`
	ArchivedAt    *time.Time `json:"archived_at,omitempty"`
	RubricContent
}

// RubricContent is what a version holds; versions are immutable.
type RubricContent struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Domains     []Domain `json:"domains"`
}

// Domain groups criteria (e.g. "Instruction").
type Domain struct {
	Key         string      `json:"key"`
	Title       string      `json:"title"`
	Description string      `json:"description,omitempty"`
	Criteria    []Criterion `json:"criteria"`
}

// Criterion is one thing a coach looks for. Its Key is stable across
// versions, which is how summaries join annotations coded with different
// versions of the same rubric.
type Criterion struct {
	Key         string  `json:"key"`
	Title       string  `json:"title"`
	Description string  `json:"description,omitempty"`
	Levels      []Level `json:"levels"`
}

// Level is a performance level of a criterion.
type Level struct {
	Key        string `json:"key"`
	Label      string `json:"label"`
	Score      int    `json:"score"`
	Descriptor string `json:"descriptor,omitempty"`
}

// RubricInput creates a rubric or (without GroupID) a new version of one.
type RubricInput struct {
	GroupID string `json:"group_id,omitempty"`
	RubricContent
}

// Criterion finds a criterion by key in the content.
func (c *RubricContent) Criterion(key string) (*Criterion, bool) {
	for i := range c.Domains {
		for j := range c.Domains[i].Criteria {
			if c.Domains[i].Criteria[j].Key == key {
				return &c.Domains[i].Criteria[j], true
			}
		}
	}
	return nil, false
}

// Level finds a level by key.
func (c *Criterion) Level(key string) (*Level, bool) {
	for i := range c.Levels {
		if c.Levels[i].Key == key {
			return &c.Levels[i], true
		}
	}
	return nil, false
}

// Rubric limits keep a rubric something a person can hold in mind, and a
// stored version small.
const (
	maxDomains           = 20
	maxCriteriaPerDomain = 50
	maxLevels            = 10
	maxRubricTitle       = 200
	maxRubricText        = 4000
)

var keyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// slugify derives a key from a title when none was given.
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 60 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "item"
	}
	return s
}

func uniqueKey(base string, used map[string]bool) string {
	k := base
	for n := 2; used[k]; n++ {
		k = fmt.Sprintf("%s-%d", base, n)
	}
	used[k] = true
	return k
}

func checkText(v *apperr.Validation, field, s string, max int, required bool) {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8 text")
	case required && strings.TrimSpace(s) == "":
		v.Add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	default:
		if p := textcheck.Block(s); p != "" {
			v.Add(field, "%s", p)
		}
	}
}

// normalizeRubric trims text, fills missing keys from titles and checks
// the content; field names in errors are JSON paths.
func normalizeRubric(c *RubricContent) error {
	v := &apperr.Validation{}
	c.Title = strings.TrimSpace(c.Title)
	checkText(v, "title", c.Title, maxRubricTitle, true)
	checkText(v, "description", c.Description, maxRubricText, false)
	if len(c.Domains) == 0 {
		v.Add("domains", "needs at least one domain")
	}
	if len(c.Domains) > maxDomains {
		v.Add("domains", "must have at most %d domains", maxDomains)
	}
	domainKeys, critKeys := map[string]bool{}, map[string]bool{}
	for i := range c.Domains {
		d := &c.Domains[i]
		p := fmt.Sprintf("domains[%d]", i)
		d.Title = strings.TrimSpace(d.Title)
		checkText(v, p+".title", d.Title, maxRubricTitle, true)
		checkText(v, p+".description", d.Description, maxRubricText, false)
		d.Key = strings.TrimSpace(d.Key)
		switch {
		case d.Key == "":
			d.Key = uniqueKey(slugify(d.Title), domainKeys)
		case !keyPattern.MatchString(d.Key):
			v.Add(p+".key", "must be 1–64 lower-case letters, digits, '-' or '_'")
		case domainKeys[d.Key]:
			v.Add(p+".key", "%q is used by another domain", d.Key)
		default:
			domainKeys[d.Key] = true
		}
		if len(d.Criteria) == 0 {
			v.Add(p+".criteria", "needs at least one criterion")
		}
		if len(d.Criteria) > maxCriteriaPerDomain {
			v.Add(p+".criteria", "must have at most %d criteria", maxCriteriaPerDomain)
		}
		for j := range d.Criteria {
			cr := &d.Criteria[j]
			cp := fmt.Sprintf("%s.criteria[%d]", p, j)
			cr.Title = strings.TrimSpace(cr.Title)
			checkText(v, cp+".title", cr.Title, maxRubricTitle, true)
			checkText(v, cp+".description", cr.Description, maxRubricText, false)
			cr.Key = strings.TrimSpace(cr.Key)
			switch {
			case cr.Key == "":
				cr.Key = uniqueKey(slugify(cr.Title), critKeys)
			case !keyPattern.MatchString(cr.Key):
				v.Add(cp+".key", "must be 1–64 lower-case letters, digits, '-' or '_'")
			case critKeys[cr.Key]:
				v.Add(cp+".key", "%q is used by another criterion (criterion keys are unique in a rubric)", cr.Key)
			default:
				critKeys[cr.Key] = true
			}
			if len(cr.Levels) > maxLevels {
				v.Add(cp+".levels", "must have at most %d levels", maxLevels)
			}
			levelKeys := map[string]bool{}
			for k := range cr.Levels {
				l := &cr.Levels[k]
				lp := fmt.Sprintf("%s.levels[%d]", cp, k)
				l.Label = strings.TrimSpace(l.Label)
				checkText(v, lp+".label", l.Label, maxRubricTitle, true)
				checkText(v, lp+".descriptor", l.Descriptor, maxRubricText, false)
				if l.Score < 0 || l.Score > 100 {
					v.Add(lp+".score", "must be between 0 and 100")
				}
				l.Key = strings.TrimSpace(l.Key)
				switch {
				case l.Key == "":
					l.Key = uniqueKey(slugify(l.Label), levelKeys)
				case !keyPattern.MatchString(l.Key):
					v.Add(lp+".key", "must be 1–64 lower-case letters, digits, '-' or '_'")
				case levelKeys[l.Key]:
					v.Add(lp+".key", "%q is used by another level of this criterion", l.Key)
				default:
					levelKeys[l.Key] = true
				}
			}
		}
	}
	return v.Err()
}

// memberships reads the actor's group roles. The accounts tables live in
// the same database, and reading them here avoids a call per rubric.
func (s *Service) memberships(ctx context.Context, userID string) (accounts.Memberships, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT group_id, role FROM group_members WHERE user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("read memberships of %s: %w", userID, err)
	}
	defer rows.Close()
	m := accounts.Memberships{}
	for rows.Next() {
		var g, r string
		if err := rows.Scan(&g, &r); err != nil {
			return nil, fmt.Errorf("read memberships of %s: %w", userID, err)
		}
		m[g] = accounts.Role(r)
	}
	return m, rows.Err()
}

// canEditRubric: site rubrics are edited by admins; group rubrics by the
// group's coaches and facilitators (and admins).
func (s *Service) canEditRubric(ctx context.Context, a accounts.Actor, groupID string) (bool, error) {
	if a.Admin {
		return true, nil
	}
	if groupID == "" {
		return false, nil
	}
	m, err := s.memberships(ctx, a.UserID)
	if err != nil {
		return false, err
	}
	r := m[groupID]
	return r == accounts.RoleCoach || r == accounts.RoleFacilitator, nil
}

// canViewRubric: site rubrics are for everyone signed in; group rubrics for
// the group's members, admins, and anyone who may view a clip coded with it
// (viaClip is that clip's ID, checked by the caller).
func (s *Service) canViewRubric(ctx context.Context, a accounts.Actor, groupID string) (bool, error) {
	if groupID == "" || a.Admin {
		return true, nil
	}
	m, err := s.memberships(ctx, a.UserID)
	if err != nil {
		return false, err
	}
	_, ok := m[groupID]
	return ok, nil
}

const rubricCols = `r.id, COALESCE(r.slug, ''), COALESCE(r.group_id, ''), r.current_version, r.created_at, r.archived_at,
	v.version, v.content, v.created_at`

func scanRubric(sc interface{ Scan(...any) error }) (*Rubric, error) {
	var r Rubric
	var created, vcreated int64
	var archived sql.NullInt64
	var content string
	if err := sc.Scan(&r.ID, &r.Slug, &r.GroupID, &r.LatestVersion, &created, &archived, &r.Version, &content, &vcreated); err != nil {
		return nil, err
	}
	r.CreatedAt, r.VersionAt, r.ArchivedAt = sqldb.Time(created), sqldb.Time(vcreated), sqldb.NullTime(archived)
	if err := json.Unmarshal([]byte(content), &r.RubricContent); err != nil {
		return nil, fmt.Errorf("decode rubric %s version %d: %w", r.ID, r.Version, err)
	}
	return &r, nil
}

// loadRubric reads a rubric at a version (0: the current one).
func (s *Service) loadRubric(ctx context.Context, q sqldb.Q, rubricID string, version int) (*Rubric, error) {
	query := `SELECT ` + rubricCols + ` FROM rubrics r JOIN rubric_versions v ON v.rubric_id = r.id
		WHERE r.id = ? AND v.version = `
	args := []any{rubricID}
	if version > 0 {
		query += `?`
		args = append(args, version)
	} else {
		query += `r.current_version`
	}
	r, err := scanRubric(q.QueryRow(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.NotFound("rubric")
	}
	if err != nil {
		return nil, fmt.Errorf("read rubric %s: %w", rubricID, err)
	}
	return r, nil
}

// versionContent returns an immutable rubric version, from the cache when
// it can.
func (s *Service) versionContent(ctx context.Context, q sqldb.Q, rubricID string, version int) (*Rubric, error) {
	if version > 0 {
		s.mu.Lock()
		r, ok := s.versions[versionKey{rubricID, version}]
		s.mu.Unlock()
		if ok {
			return r, nil
		}
	}
	r, err := s.loadRubric(ctx, q, rubricID, version)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.versions) >= maxCachedVersions {
		clear(s.versions)
	}
	s.versions[versionKey{r.ID, r.Version}] = r
	s.mu.Unlock()
	return r, nil
}

// GetRubric returns a rubric at a version (0: current). viaClipID, when
// given, lets anyone who may view that clip read the clip's rubric.
func (s *Service) GetRubric(ctx context.Context, a accounts.Actor, rubricID string, version int, viaClipID string) (*Rubric, error) {
	if err := requireActor(a); err != nil {
		return nil, err
	}
	r, err := s.loadRubric(ctx, s.db.Reader(), rubricID, version)
	if err != nil {
		return nil, err
	}
	ok, err := s.canViewRubric(ctx, a, r.GroupID)
	if err != nil {
		return nil, err
	}
	if !ok && viaClipID != "" {
		clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, viaClipID)
		if err == nil && clip.RubricID == r.ID {
			ok = true
		}
	}
	if !ok {
		return nil, apperr.NotFound("rubric")
	}
	return r, nil
}

// ListRubrics returns the current version of every rubric the actor may
// use: site rubrics and those of their groups (admins: all).
func (s *Service) ListRubrics(ctx context.Context, a accounts.Actor, includeArchived bool) ([]*Rubric, error) {
	if err := requireActor(a); err != nil {
		return nil, err
	}
	query := `SELECT ` + rubricCols + ` FROM rubrics r JOIN rubric_versions v ON v.rubric_id = r.id AND v.version = r.current_version WHERE 1 = 1`
	var args []any
	if !includeArchived {
		query += ` AND r.archived_at IS NULL`
	}
	if !a.Admin {
		query += ` AND (r.group_id IS NULL OR r.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?))`
		args = append(args, a.UserID)
	}
	query += ` ORDER BY r.group_id IS NOT NULL, v.title, r.id`
	rows, err := s.db.Reader().Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list rubrics: %w", err)
	}
	defer rows.Close()
	out := []*Rubric{}
	for rows.Next() {
		r, err := scanRubric(rows)
		if err != nil {
			return nil, fmt.Errorf("list rubrics: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateRubric stores version 1 of a new rubric.
func (s *Service) CreateRubric(ctx context.Context, a accounts.Actor, in RubricInput) (*Rubric, error) {
	if err := requireActor(a); err != nil {
		return nil, err
	}
	if in.GroupID != "" {
		var n int
		if err := s.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM groups WHERE id = ?`, in.GroupID).Scan(&n); err != nil {
			return nil, fmt.Errorf("read group %s: %w", in.GroupID, err)
		}
		if n == 0 {
			return nil, apperr.Invalid("group_id", "is not a group you belong to")
		}
		if ok, err := s.canViewRubric(ctx, a, in.GroupID); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperr.Invalid("group_id", "is not a group you belong to")
		}
	}
	ok, err := s.canEditRubric(ctx, a, in.GroupID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if in.GroupID == "" {
			return nil, apperr.Forbidden("only site administrators may create site rubrics; give a group_id for a group rubric")
		}
		return nil, apperr.Forbidden("only the group's coaches and facilitators may create its rubrics")
	}
	if err := normalizeRubric(&in.RubricContent); err != nil {
		return nil, err
	}
	rid := id.New()
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		return s.insertRubric(ctx, q, rid, "", in.GroupID, a.UserID, in.RubricContent)
	})
	if err != nil {
		return nil, err
	}
	return s.loadRubric(ctx, s.db.Reader(), rid, 0)
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Service) insertRubric(ctx context.Context, q sqldb.Q, rid, slug, groupID, by string, c RubricContent) error {
	now := sqldb.Millis(s.clock())
	if _, err := q.Exec(ctx, `INSERT INTO rubrics (id, slug, group_id, current_version, created_by, created_at, updated_at)
		VALUES (?, ?, ?, 1, ?, ?, ?)`, rid, nullable(slug), nullable(groupID), nullable(by), now, now); err != nil {
		return fmt.Errorf("create rubric: %w", err)
	}
	content, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode rubric: %w", err)
	}
	if _, err := q.Exec(ctx, `INSERT INTO rubric_versions (rubric_id, version, title, content, created_by, created_at)
		VALUES (?, 1, ?, ?, ?, ?)`, rid, c.Title, string(content), nullable(by), now); err != nil {
		return fmt.Errorf("create rubric version: %w", err)
	}
	return nil
}

// UpdateRubric stores the content as a new version; earlier versions stay
// as they were, so annotations coded with them keep their meaning.
func (s *Service) UpdateRubric(ctx context.Context, a accounts.Actor, rubricID string, c RubricContent) (*Rubric, error) {
	cur, err := s.editableRubric(ctx, a, rubricID)
	if err != nil {
		return nil, err
	}
	if cur.ArchivedAt != nil {
		return nil, apperr.New(apperr.ErrConflict, "rubric_archived", "this rubric is archived; it can no longer be edited")
	}
	if err := normalizeRubric(&c); err != nil {
		return nil, err
	}
	content, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode rubric: %w", err)
	}
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		var v int
		if err := q.QueryRow(ctx, `SELECT current_version FROM rubrics WHERE id = ?`, rubricID).Scan(&v); err != nil {
			return fmt.Errorf("read rubric %s: %w", rubricID, err)
		}
		now := sqldb.Millis(s.clock())
		if _, err := q.Exec(ctx, `INSERT INTO rubric_versions (rubric_id, version, title, content, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, rubricID, v+1, c.Title, string(content), a.UserID, now); err != nil {
			return fmt.Errorf("add version %d of rubric %s: %w", v+1, rubricID, err)
		}
		if _, err := q.Exec(ctx, `UPDATE rubrics SET current_version = ?, updated_at = ? WHERE id = ?`, v+1, now, rubricID); err != nil {
			return fmt.Errorf("update rubric %s: %w", rubricID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.loadRubric(ctx, s.db.Reader(), rubricID, 0)
}

func (s *Service) editableRubric(ctx context.Context, a accounts.Actor, rubricID string) (*Rubric, error) {
	if err := requireActor(a); err != nil {
		return nil, err
	}
	cur, err := s.loadRubric(ctx, s.db.Reader(), rubricID, 0)
	if err != nil {
		return nil, err
	}
	if ok, err := s.canViewRubric(ctx, a, cur.GroupID); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperr.NotFound("rubric")
	}
	ok, err := s.canEditRubric(ctx, a, cur.GroupID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apperr.Forbidden("only administrators (site rubrics) or the group's coaches and facilitators may change this rubric")
	}
	return cur, nil
}

// ArchiveRubric hides a rubric from lists and new clips; clips and
// annotations that use it keep working.
func (s *Service) ArchiveRubric(ctx context.Context, a accounts.Actor, rubricID string) (*Rubric, error) {
	if _, err := s.editableRubric(ctx, a, rubricID); err != nil {
		return nil, err
	}
	now := sqldb.Millis(s.clock())
	if _, err := s.db.Writer().Exec(ctx, `UPDATE rubrics SET archived_at = COALESCE(archived_at, ?), updated_at = ? WHERE id = ?`, now, now, rubricID); err != nil {
		return nil, fmt.Errorf("archive rubric %s: %w", rubricID, err)
	}
	return s.loadRubric(ctx, s.db.Reader(), rubricID, 0)
}
