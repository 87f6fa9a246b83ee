package server

import (
	"context"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// TestAuthorizeReadsAudienceAndMemberships: the one-query audience and
// membership read of media.Clips.Authorize gives what the clip list (and
// accounts.Memberships) give, on both databases: users by name, groups
// without archived ones, reflect-first from a group, and the viewer's role.
func TestAuthorizeReadsAudienceAndMemberships(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(Migrations()...) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, d.Open(t))
			ctx := context.Background()
			owner := e.user("owner@example.org", "Olive", false)
			coach := e.user("coach@example.org", "Cora", false)
			zed := e.user("zed@example.org", "Zed", false)
			amy := e.user("amy@example.org", "Amy", false)
			w := &world{env: e, people: map[string]person{"coach": coach, "zed": zed, "amy": amy}}
			group := func(name string, reflectFirst bool) string {
				g, err := e.srv.Accounts.CreateGroup(ctx, owner.user.Actor("session"), accounts.GroupInput{Name: name, ReflectFirst: reflectFirst})
				if err != nil {
					t.Fatal(err)
				}
				return g.ID
			}
			g, h, k := group("Cohort G", true), group("Cohort H", false), group("Cohort K", false)
			w.join(owner, g, "coach", accounts.RoleCoach)
			w.join(owner, h, "coach", accounts.RolePeer)
			// People are named by ID only when the sharer knows them from a group.
			w.join(owner, k, "zed", accounts.RolePeer)
			w.join(owner, k, "amy", accounts.RolePeer)
			clip := e.clip(owner, "Fractions", "")
			if _, err := e.srv.Clips.SetAudience(ctx, owner.user.Actor("session"), clip.ID,
				media.AudienceInput{UserIDs: []string{zed.user.ID, amy.user.ID}, GroupIDs: []string{k, g, h}}); err != nil {
				t.Fatal(err)
			}
			if err := e.srv.Accounts.ArchiveGroup(ctx, owner.user.Actor("session"), h); err != nil {
				t.Fatal(err)
			}

			got, err := e.srv.Clips.Authorize(ctx, coach.user.Actor("session"), accounts.ClipAnnotate, clip.ID)
			if err != nil {
				t.Fatal(err)
			}
			list, err := e.srv.Clips.List(ctx, coach.user.Actor("session"), media.ScopeShared, "")
			if err != nil || len(list) != 1 {
				t.Fatalf("list: %v %v", list, err)
			}
			want := list[0].Audience
			if len(got.Audience.Users) != 2 || got.Audience.Users[0].Name != "Amy" || got.Audience.Users[1].Name != "Zed" {
				t.Errorf("users %+v", got.Audience.Users)
			}
			if len(got.Audience.Groups) != 2 || got.Audience.Groups[0].ID != g || got.Audience.Groups[1].ID != k {
				t.Errorf("groups %+v, want G and K (H is archived)", got.Audience.Groups)
			}
			if len(want.Users) != len(got.Audience.Users) || len(want.Groups) != len(got.Audience.Groups) {
				t.Errorf("Authorize's audience %+v differs from the list's %+v", got.Audience, want)
			}
			for i := range want.Users {
				if want.Users[i] != got.Audience.Users[i] {
					t.Errorf("user %d: %+v vs %+v", i, got.Audience.Users[i], want.Users[i])
				}
			}
			for i := range want.Groups {
				if want.Groups[i] != got.Audience.Groups[i] {
					t.Errorf("group %d: %+v vs %+v", i, got.Audience.Groups[i], want.Groups[i])
				}
			}
			if !got.FeedbackAfterReflection || !list[0].FeedbackAfterReflection {
				t.Errorf("reflect first of group G lost: %v / %v", got.FeedbackAfterReflection, list[0].FeedbackAfterReflection)
			}
			// The coach's role in G lets them annotate; nothing lets them edit.
			m, err := e.srv.Accounts.Memberships(ctx, coach.user.ID)
			if err != nil || len(m) != 1 || m[g] != accounts.RoleCoach {
				t.Fatalf("memberships %v %v", m, err)
			}
			if _, err := e.srv.Clips.Authorize(ctx, coach.user.Actor("session"), accounts.ClipEdit, clip.ID); err == nil {
				t.Error("a coach may edit the clip")
			}
			// Archived G: the coach no longer sees the clip through it.
			if err := e.srv.Accounts.ArchiveGroup(ctx, owner.user.Actor("session"), g); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.Clips.Authorize(ctx, coach.user.Actor("session"), accounts.ClipView, clip.ID); err == nil {
				t.Error("the coach still sees the clip after its group was archived")
			}
		})
	}
}

// TestGrowthCountsPlayableClips: a teacher's growth counts the lessons one
// can watch; a clip that failed to process (or is still being prepared) is
// not a lesson in the chart.
func TestGrowthCountsPlayableClips(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, status := range []string{"failed", "transcoding"} {
		c := w.env.clip(w.people["owner"], "Lesson "+status, w.g)
		if _, err := w.db.Writer().Exec(ctx, `UPDATE clips SET status = ? WHERE id = ?`, status, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"owner", "coach"} {
		var g struct {
			Buckets []struct {
				Clips int `json:"clips"`
			} `json:"buckets"`
		}
		w.env.do(w.people[who], "GET", "/api/v1/users/"+w.people["owner"].user.ID+"/growth?bucket=clip", "").json(t, &g)
		if len(g.Buckets) != 1 || g.Buckets[0].Clips != 1 {
			t.Errorf("%s: growth buckets %+v, want the one ready clip", who, g.Buckets)
		}
	}
}
