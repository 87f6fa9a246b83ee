package annotations_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// sqlClips is the test implementation of the clip boundary over the real
// clips, audience and membership tables, deciding with accounts.CanClip.
type sqlClips struct{ db *sqldb.DB }

func (c sqlClips) info(ctx context.Context, clipID string) (annotations.ClipInfo, accounts.ClipAccess, error) {
	var ci annotations.ClipInfo
	var acc accounts.ClipAccess
	var created int64
	var groupID string
	var clipRF, groupRF bool
	err := c.db.Reader().QueryRow(ctx, `SELECT c.id, c.owner_id, c.title, c.duration_ms, COALESCE(c.rubric_id, ''), c.reflect_first,
		COALESCE(c.group_id, ''), COALESCE(g.reflect_first, FALSE), c.created_at
		FROM clips c LEFT JOIN groups g ON g.id = c.group_id WHERE c.id = ?`, clipID).
		Scan(&ci.ID, &ci.OwnerID, &ci.Title, &ci.DurationMS, &ci.RubricID, &clipRF, &groupID, &groupRF, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ci, acc, apperr.NotFound("clip")
	}
	if err != nil {
		return ci, acc, err
	}
	ci.ReflectFirst = clipRF || groupRF
	ci.CreatedAt = sqldb.Time(created)
	acc.OwnerID = ci.OwnerID
	rows, err := c.db.Reader().Query(ctx, `SELECT user_id FROM clip_audience_users WHERE clip_id = ?`, clipID)
	if err != nil {
		return ci, acc, err
	}
	for rows.Next() {
		var u string
		_ = rows.Scan(&u)
		acc.UserIDs = append(acc.UserIDs, u)
	}
	rows.Close()
	rows, err = c.db.Reader().Query(ctx, `SELECT group_id FROM clip_audience_groups WHERE clip_id = ?`, clipID)
	if err != nil {
		return ci, acc, err
	}
	for rows.Next() {
		var g string
		_ = rows.Scan(&g)
		acc.GroupIDs = append(acc.GroupIDs, g)
	}
	rows.Close()
	ci.GroupIDs = acc.GroupIDs
	return ci, acc, nil
}

func (c sqlClips) memberships(ctx context.Context, userID string) (accounts.Memberships, error) {
	rows, err := c.db.Reader().Query(ctx, `SELECT group_id, role FROM group_members WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := accounts.Memberships{}
	for rows.Next() {
		var g, r string
		if err := rows.Scan(&g, &r); err != nil {
			return nil, err
		}
		m[g] = accounts.Role(r)
	}
	return m, rows.Err()
}

func (c sqlClips) Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) (annotations.ClipInfo, error) {
	ci, acc, err := c.info(ctx, clipID)
	if err != nil {
		return ci, err
	}
	m, err := c.memberships(ctx, a.UserID)
	if err != nil {
		return ci, err
	}
	if !accounts.CanClip(a, m, accounts.ClipView, acc) {
		return annotations.ClipInfo{}, apperr.NotFound("clip")
	}
	if !accounts.CanClip(a, m, act, acc) {
		return annotations.ClipInfo{}, apperr.Forbidden("you may not do this to the clip")
	}
	return ci, nil
}

func (c sqlClips) VisibleOwnedBy(ctx context.Context, a accounts.Actor, ownerID string) ([]annotations.ClipInfo, error) {
	rows, err := c.db.Reader().Query(ctx, `SELECT id FROM clips WHERE owner_id = ? ORDER BY created_at, id`, ownerID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		ids = append(ids, s)
	}
	rows.Close()
	var out []annotations.ClipInfo
	for _, cid := range ids {
		ci, err := c.Authorize(ctx, a, accounts.ClipView, cid)
		if errors.Is(err, apperr.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ci)
	}
	return out, nil
}

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu  sync.Mutex
	evs []annotations.Event
}

func (r *recorder) Publish(_ context.Context, e annotations.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
}

func (r *recorder) events() []annotations.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]annotations.Event(nil), r.evs...)
}

// world is one test's database with people, groups, a rubric and a clip.
type world struct {
	db  *sqldb.DB
	svc *annotations.Service
	pub *recorder
	// People: the clip's owner (a teacher), a coach and a peer in the
	// clip's group, a member of another group, an outsider and an admin.
	owner, coach, peer, other, outsider, admin accounts.Actor
	group, otherGroup                          string
	rubricID, otherRubricID                    string
	clip                                       string // 60 s, shared with group, microteaching rubric
}

var everyone = []string{"owner", "coach", "peer", "other", "outsider", "admin"}

func (w *world) who(name string) accounts.Actor {
	switch name {
	case "owner":
		return w.owner
	case "coach":
		return w.coach
	case "peer":
		return w.peer
	case "other":
		return w.other
	case "outsider":
		return w.outsider
	case "admin":
		return w.admin
	}
	return accounts.Actor{}
}

func exec(t testing.TB, db *sqldb.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Writer().Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func addUser(t testing.TB, db *sqldb.DB, name string, admin bool) accounts.Actor {
	uid := id.New()
	exec(t, db, `INSERT INTO users (id, email, name, password_hash, admin, created_at, updated_at) VALUES (?, ?, ?, 'x', ?, 0, 0)`,
		uid, uid+"@example.org", name, admin)
	return accounts.Actor{UserID: uid, Name: name, Admin: admin, Via: "session"}
}

// addClip adds a clip owned by owner, shared with groupID when given.
func (w *world) addClip(t testing.TB, owner accounts.Actor, durationMS int64, rubricID, groupID string, created time.Time) string {
	cid := id.New()
	exec(t, w.db, `INSERT INTO clips (id, owner_id, title, status, duration_ms, rubric_id, group_id, created_at, updated_at)
		VALUES (?, ?, ?, 'ready', ?, ?, ?, ?, ?)`, cid, owner.UserID, "Lesson "+cid[20:], durationMS,
		nullStr(rubricID), nullStr(groupID), sqldb.Millis(created), sqldb.Millis(created))
	if groupID != "" {
		exec(t, w.db, `INSERT INTO clip_audience_groups (clip_id, group_id) VALUES (?, ?)`, cid, groupID)
	}
	return cid
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

var testClock = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newWorld(t testing.TB, d testsvc.Database) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{db: d.Open(t), pub: &recorder{}}
	w.svc = annotations.New(annotations.Config{DB: w.db, Clips: sqlClips{w.db}, Publisher: w.pub, Logger: slog.New(slog.DiscardHandler)})
	w.owner = addUser(t, w.db, "Tess Teacher", false)
	w.coach = addUser(t, w.db, "Cora Coach", false)
	w.peer = addUser(t, w.db, "Pat Peer", false)
	w.other = addUser(t, w.db, "Olly Other", false)
	w.outsider = addUser(t, w.db, "Ozzie Outsider", false)
	w.admin = addUser(t, w.db, "Ada Admin", true)
	w.group, w.otherGroup = id.New(), id.New()
	exec(t, w.db, `INSERT INTO groups (id, name, created_at) VALUES (?, 'Cohort A', 0), (?, 'Cohort B', 0)`, w.group, w.otherGroup)
	for _, m := range []struct {
		g string
		a accounts.Actor
		r string
	}{{w.group, w.owner, "teacher"}, {w.group, w.coach, "coach"}, {w.group, w.peer, "peer"}, {w.otherGroup, w.other, "teacher"}} {
		exec(t, w.db, `INSERT INTO group_members (group_id, user_id, role, created_at) VALUES (?, ?, ?, 0)`, m.g, m.a.UserID, m.r)
	}
	if err := w.svc.SeedStarterRubrics(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := w.svc.ListRubrics(ctx, w.admin, false)
	if err != nil || len(rs) != 3 {
		t.Fatalf("starter rubrics: %d, %v", len(rs), err)
	}
	for _, r := range rs {
		switch r.Slug {
		case "microteaching-feedback":
			w.rubricID = r.ID
		case "classroom-discourse":
			w.otherRubricID = r.ID
		}
	}
	w.clip = w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock)
	return w
}

func ptr[T any](v T) *T { return &v }

// mustCreate creates an annotation or fails the test.
func (w *world) mustCreate(t testing.TB, a accounts.Actor, clipID string, in annotations.AnnotationInput) annotations.Annotation {
	t.Helper()
	ann, _, err := w.svc.Create(context.Background(), a, clipID, in)
	if err != nil {
		t.Fatalf("create %+v: %v", in, err)
	}
	return ann
}

func dbs() []testsvc.Database {
	return testsvc.Databases(accounts.Migrations(), media.Migrations(), annotations.Migrations())
}
