package media

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// This file is the access check that every clip request runs: one query
// for the clip, its audience and the viewer's memberships, then the
// policy's decision (can, consent.go).

// viewerQuery is getForViewer's query; its arguments are the clip's ID,
// the clip's ID, the viewer's ID, then the clip's ID twice.
const viewerQuery = `SELECT ` + clipCols + `, x.kind, x.ref, x.name, x.flag, x.role` + clipFrom + `
		LEFT JOIN (SELECT 'u' AS kind, u.id AS ref, u.name AS name, FALSE AS flag, '' AS role
				FROM clip_audience_users a JOIN users u ON u.id = a.user_id WHERE a.clip_id = ?
			UNION ALL SELECT 'g', g.id, g.name, g.reflect_first, ''
				FROM clip_audience_groups a JOIN groups g ON g.id = a.group_id WHERE a.clip_id = ? AND g.archived_at IS NULL
			UNION ALL SELECT 'm', m.group_id, '', FALSE, m.role
				FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? AND g.archived_at IS NULL
			UNION ALL SELECT 'x', e.email, COALESCE(e.user_id, ''), FALSE, ''
				FROM clip_audience_emails e WHERE e.clip_id = ?) x ON TRUE
		WHERE c.id = ?
		ORDER BY x.kind, x.name, x.ref`

// getForViewer is get plus the viewer's group memberships, in one query
// instead of four (Authorize runs on every API request, and on PostgreSQL
// every query is a round trip to another process): the clip row joined to
// one row per audience user, audience group, membership of the viewer and
// invited address (the clip's columns repeat on each; there are a handful).
// It reads what loadAudience and accounts.Memberships read, with the same
// filters and order.
func (s *Clips) getForViewer(ctx context.Context, clipID, userID string) (Clip, accounts.Memberships, error) {
	rows, err := s.db.Reader().Query(ctx, viewerQuery, clipID, clipID, userID, clipID, clipID)
	if err != nil {
		return Clip{}, nil, fmt.Errorf("read clip %s: %w", clipID, err)
	}
	defer rows.Close()
	var c Clip
	found := false
	m := accounts.Memberships{}
	for rows.Next() {
		// The x columns are NULL when the clip has no such rows at all.
		var kind, ref, name, role sql.NullString
		var flag sql.NullBool
		row, err := s.scanClip(extraCols{rows, []any{&kind, &ref, &name, &flag, &role}})
		if err != nil {
			return Clip{}, nil, fmt.Errorf("read clip %s: %w", clipID, err)
		}
		if !found { // the clip's columns are the same on every row
			c, found = row, true
		}
		switch kind.String {
		case "u":
			c.Audience.Users = append(c.Audience.Users, Person{ID: ref.String, Name: name.String})
		case "g":
			c.Audience.Groups = append(c.Audience.Groups, GroupRef{ID: ref.String, Name: name.String})
			c.FeedbackAfterReflection = c.FeedbackAfterReflection || flag.Bool
		case "m":
			m[ref.String] = accounts.Role(role.String)
		case "x":
			c.Audience.addEmail(ref.String, name.String)
		}
	}
	if err := rows.Err(); err != nil {
		return Clip{}, nil, fmt.Errorf("read clip %s: %w", clipID, err)
	}
	if !found {
		return Clip{}, nil, apperr.NotFound("clip")
	}
	slices.Sort(c.Audience.Emails) // rows came ordered by account, which must not show
	return c, m, s.applyPolicy(ctx, &c)
}

// extraCols scans a row into scanClip's destinations followed by more.
type extraCols struct {
	rows  *sql.Rows
	extra []any
}

func (e extraCols) Scan(dest ...any) error { return e.rows.Scan(append(dest, e.extra...)...) }

var allActions = []accounts.Action{accounts.ClipView, accounts.ClipAnnotate, accounts.ClipHost, accounts.ClipEdit, accounts.ClipDelete}

// Authorize loads the clip when the actor may do act to it. A clip the
// actor may not view is "not found", so IDs reveal nothing.
func (s *Clips) Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) (Clip, error) {
	if !id.Valid(clipID) {
		return Clip{}, apperr.NotFound("clip")
	}
	c, m, err := s.getForViewer(ctx, clipID, a.UserID)
	if err != nil {
		return c, err
	}
	c.forViewer(a, m)
	if c.can(a, m, act) {
		return c, nil
	}
	if !c.can(a, m, accounts.ClipView) {
		return Clip{}, apperr.NotFound("clip")
	}
	return Clip{}, apperr.Forbidden("you may view this clip but not " + describe(act) + " it")
}

// forViewer fills what the viewer may do and hides what only the owner
// may see.
func (c *Clip) forViewer(a accounts.Actor, m accounts.Memberships) {
	c.MyAccess = nil
	for _, x := range allActions {
		if c.can(a, m, x) {
			c.MyAccess = append(c.MyAccess, x)
		}
	}
	if a.UserID != c.Owner.ID {
		c.UploadID = ""
	}
	if !c.can(a, m, accounts.ClipEdit) {
		c.Audience.Emails = nil
	}
	c.privacyForViewer(a, c.can(a, m, accounts.ClipEdit))
}

func describe(act accounts.Action) string {
	switch act {
	case accounts.ClipEdit:
		return "change"
	case accounts.ClipHost:
		return "host a synchronized session on"
	}
	return string(act)
}

// ExplainAuthorize returns the database's plan for the query Authorize
// runs on every request (for the benchmark, and for operators checking
// that every part of it uses an index). On PostgreSQL the query runs
// (EXPLAIN ANALYZE).
func (s *Clips) ExplainAuthorize(ctx context.Context, clipID, userID string) (string, error) {
	// The one dialect difference here: the EXPLAIN syntax.
	prefix := "EXPLAIN QUERY PLAN "
	if s.db.Dialect == sqldb.Postgres {
		prefix = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	rows, err := s.db.Reader().Query(ctx, prefix+viewerQuery, clipID, clipID, userID, clipID, clipID)
	if err != nil {
		return "", fmt.Errorf("explain authorize: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", fmt.Errorf("explain authorize: %w", err)
	}
	var b strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", fmt.Errorf("explain authorize: %w", err)
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one text line.
		line := vals[len(vals)-1]
		if bs, ok := line.([]byte); ok {
			line = string(bs)
		}
		fmt.Fprintf(&b, "%v\n", line)
	}
	return b.String(), rows.Err()
}
