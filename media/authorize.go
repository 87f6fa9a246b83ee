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

// viewerQuery is getForViewer's query: a UNION ALL of the clip row (kind
// 'c', sorted first) and one row per audience user ('u'), audience group
// ('g'), membership of the viewer ('m') and invited address ('x'), each
// with NULL in the other kind's columns, so the clip's forty columns are
// sent and converted once, not once per audience row. The memberships
// come only with an existing clip, so a first row that is not the clip
// means there is none. Its arguments: the clip's ID four times, the
// viewer's ID, the clip's ID.
var viewerQuery = func() string {
	nulls := strings.Repeat("NULL, ", clipColumns-1) // and one more after each
	return `SELECT 'c' AS x_kind, '' AS x_ref, '' AS x_name, FALSE AS x_flag, '' AS x_role, ` + clipCols + clipFrom + ` WHERE c.id = ?
		UNION ALL SELECT 'u', u.id, u.name, FALSE, '', ` + nulls + `NULL
			FROM clip_audience_users a JOIN users u ON u.id = a.user_id WHERE a.clip_id = ?
		UNION ALL SELECT 'g', g.id, g.name, g.reflect_first, '', ` + nulls + `NULL
			FROM clip_audience_groups a JOIN groups g ON g.id = a.group_id WHERE a.clip_id = ? AND g.archived_at IS NULL
		UNION ALL SELECT 'x', e.email, COALESCE(e.user_id, ''), FALSE, '', ` + nulls + `NULL
			FROM clip_audience_emails e WHERE e.clip_id = ?
		UNION ALL SELECT 'm', m.group_id, '', FALSE, m.role, ` + nulls + `NULL
			FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? AND g.archived_at IS NULL
			AND EXISTS (SELECT 1 FROM clips WHERE id = ?)
		ORDER BY x_kind, x_name, x_ref`
}()

// clipColumns is the number of columns in clipCols.
var clipColumns = columns(clipCols)

// columns counts the comma-separated expressions of a select list (commas
// inside parentheses belong to a function call).
func columns(list string) int {
	n, depth := 1, 0
	for _, r := range list {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

// getForViewer is get plus the viewer's group memberships, in one query
// instead of four (Authorize runs on every API request, and on PostgreSQL
// every query is a round trip to another process). It reads what
// loadAudience and accounts.Memberships read, with the same filters and
// order.
func (s *Clips) getForViewer(ctx context.Context, clipID, userID string) (Clip, accounts.Memberships, error) {
	rows, err := s.db.Reader().Query(ctx, viewerQuery, clipID, clipID, clipID, clipID, userID, clipID)
	if err != nil {
		return Clip{}, nil, fmt.Errorf("read clip %s: %w", clipID, err)
	}
	defer rows.Close()
	var (
		c                     Clip
		found                 bool
		kind, ref, name, role string
		flag                  bool
		head                  = []any{&kind, &ref, &name, &flag, &role}
		// skip takes the NULL clip columns of the audience rows.
		skip     any
		audience = append(head[:len(head):len(head)], slices.Repeat([]any{&skip}, clipColumns)...)
	)
	m := accounts.Memberships{}
	for rows.Next() {
		if !found {
			// The first row is the clip's, if the clip exists.
			if c, err = s.scanClip(prefixCols{rows, head}); err != nil {
				return Clip{}, nil, fmt.Errorf("read clip %s: %w", clipID, err)
			}
			found = true
			continue
		}
		if err := rows.Scan(audience...); err != nil {
			return Clip{}, nil, fmt.Errorf("read audience of clip %s: %w", clipID, err)
		}
		switch kind {
		case "u":
			c.Audience.Users = append(c.Audience.Users, Person{ID: ref, Name: name})
		case "g":
			c.Audience.Groups = append(c.Audience.Groups, GroupRef{ID: ref, Name: name})
			c.FeedbackAfterReflection = c.FeedbackAfterReflection || flag
		case "m":
			m[ref] = accounts.Role(role)
		case "x":
			c.Audience.addEmail(ref, name)
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

// prefixCols scans a row into more destinations followed by scanClip's.
type prefixCols struct {
	rows *sql.Rows
	head []any
}

func (p prefixCols) Scan(dest ...any) error { return p.rows.Scan(append(p.head, dest...)...) }

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
	rows, err := s.db.Reader().Query(ctx, prefix+viewerQuery, clipID, clipID, clipID, clipID, userID, clipID)
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
