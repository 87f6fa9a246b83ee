package media_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy/policy"
)

// TestAuthorizeAgreesWithTheList: Authorize reads a clip, its audience and
// the viewer's memberships in one query (a UNION ALL of the clip row and
// the audience rows); for every audience shape and every viewer it must
// show exactly what the clip list shows (which reads them with separate
// queries), and allow exactly the actions the list's MyAccess names. A
// viewer with memberships and a clip that does not exist is not found.
func TestAuthorizeAgreesWithTheList(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), media.Migrations(), policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newRetentionEnv(t, d)
			stranger, err := e.acc.CreateUser(ctx, accounts.NewUser{Email: "stranger@example.org", Name: "Stranger", Password: "a long enough password"}, false)
			if err != nil {
				t.Fatal(err)
			}
			viewers := map[string]accounts.Actor{"owner": e.owner, "coach": e.coach, "peer": e.peer, "admin": e.admins,
				"stranger": stranger.Actor("session")}
			share := func(t *testing.T, c media.Clip, in media.AudienceInput) {
				t.Helper()
				if _, err := e.clips.SetAudience(ctx, e.owner, c.ID, in); err != nil {
					t.Fatalf("share: %v", err)
				}
			}
			cases := []struct {
				name  string
				group string
				share func(t *testing.T, c media.Clip)
				// sees lists the viewers who may view the clip (an admin
				// may delete any clip, but views only what is shared).
				sees []string
			}{
				{"private, no audience rows", "", nil, []string{"owner"}},
				{"its group", e.group, nil, []string{"owner", "coach", "peer"}},
				{"a person by ID", "", func(t *testing.T, c media.Clip) {
					share(t, c, media.AudienceInput{UserIDs: []string{e.peer.UserID}})
				}, []string{"owner", "peer"}},
				{"addresses, one of an account", "", func(t *testing.T, c media.Clip) {
					share(t, c, media.AudienceInput{Emails: []string{"stranger@example.org", "nobody@example.org"}})
				}, []string{"owner", "stranger"}},
				{"group, person and address", e.group, func(t *testing.T, c media.Clip) {
					share(t, c, media.AudienceInput{GroupIDs: []string{e.group}, UserIDs: []string{e.peer.UserID}, Emails: []string{"stranger@example.org"}})
				}, []string{"owner", "coach", "peer", "stranger"}},
				{"a reflect-first group, then archived", "", func(t *testing.T, c media.Clip) {
					g, err := e.acc.CreateGroup(ctx, e.owner, accounts.GroupInput{Name: "Archived " + c.ID, ReflectFirst: true})
					if err != nil {
						t.Fatal(err)
					}
					inv, err := e.acc.CreateInvitation(ctx, e.owner, g.ID, accounts.InvitationInput{Role: accounts.RolePeer})
					if err != nil {
						t.Fatal(err)
					}
					a := stranger.Actor("session")
					if _, _, err := e.acc.AcceptInvitation(ctx, inv.Token, &a, accounts.NewUser{}); err != nil {
						t.Fatal(err)
					}
					share(t, c, media.AudienceInput{GroupIDs: []string{g.ID, e.group}})
					if got, err := e.clips.Authorize(ctx, a, accounts.ClipView, c.ID); err != nil || !got.FeedbackAfterReflection {
						t.Fatalf("through the active reflect-first group: %+v %v", got.FeedbackAfterReflection, err)
					}
					if err := e.acc.ArchiveGroup(ctx, e.owner, g.ID); err != nil {
						t.Fatal(err)
					}
				}, []string{"owner", "coach", "peer"}},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c := e.clip(tc.name, tc.group)
					if tc.share != nil {
						tc.share(t, c)
					}
					for who, a := range viewers {
						got, err := e.clips.Authorize(ctx, a, accounts.ClipView, c.ID)
						list, lerr := e.clips.List(ctx, a, media.ScopeAll, "")
						if lerr != nil {
							t.Fatalf("%s: list: %v", who, lerr)
						}
						var listed *media.Clip
						for i := range list {
							if list[i].ID == c.ID {
								listed = &list[i]
							}
						}
						switch {
						case !contains(tc.sees, who):
							if !errors.Is(err, apperr.ErrNotFound) || listed != nil {
								t.Errorf("%s: Authorize = %v, listed %v; want not found and not listed", who, err, listed != nil)
							}
							continue
						case err != nil || listed == nil:
							t.Errorf("%s: Authorize = %v, listed %v; want the clip", who, err, listed != nil)
							continue
						}
						gj, _ := json.Marshal(got)
						lj, _ := json.Marshal(listed)
						if string(gj) != string(lj) {
							t.Errorf("%s: Authorize shows\n%s\nthe list shows\n%s", who, gj, lj)
						}
						for _, act := range []accounts.Action{accounts.ClipView, accounts.ClipAnnotate, accounts.ClipHost, accounts.ClipEdit, accounts.ClipDelete} {
							_, err := e.clips.Authorize(ctx, a, act, c.ID)
							if allowed := contains(listed.MyAccess, act); allowed != (err == nil) {
								t.Errorf("%s %s: Authorize = %v, MyAccess %v", who, act, err, listed.MyAccess)
							}
						}
					}
				})
			}
			if _, err := e.clips.Authorize(ctx, e.peer, accounts.ClipView, id.New()); !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("a clip that does not exist: %v", err)
			}
		})
	}
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestAuthorizeQueryUsesIndexes: every part of Authorize's one query is an
// index search on SQLite, with no full scan; on PostgreSQL, whose planner
// prefers sequential scans of tables this small, the plan must at least
// run.
func TestAuthorizeQueryUsesIndexes(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), media.Migrations(), policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newRetentionEnv(t, d)
			c := e.clip("Lesson", e.group)
			plan, err := e.clips.ExplainAuthorize(context.Background(), c.ID, e.peer.UserID)
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "sqlite" {
				if !strings.Contains(plan, "Execution Time") {
					t.Fatalf("no EXPLAIN ANALYZE output:\n%s", plan)
				}
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(plan), "\n") {
				if strings.HasPrefix(line, "SCAN ") {
					t.Errorf("a full scan in Authorize's query: %q\n%s", line, plan)
				}
			}
			for _, table := range []string{"c USING INDEX", "a USING COVERING INDEX", "m USING INDEX group_members_user", "e USING INDEX"} {
				if !strings.Contains(plan, "SEARCH "+table) {
					t.Errorf("plan lacks SEARCH %s:\n%s", table, plan)
				}
			}
		})
	}
}
