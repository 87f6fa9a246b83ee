package media_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy/policy"
)

// clock is the tests' swappable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// events keeps what was recorded, as the audit log would.
type events struct {
	mu  sync.Mutex
	all []audit.Event
}

func (e *events) Record(_ context.Context, ev audit.Event) error {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	return nil
}

func (e *events) find(act audit.Action, clipID string) (audit.Event, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.all {
		if ev.Action == act && ev.ClipID == clipID {
			return ev, true
		}
	}
	return audit.Event{}, false
}

type retentionEnv struct {
	clk    *clock
	acc    *accounts.Service
	clips  *media.Clips
	pol    *policy.Store
	log    *events
	owner  accounts.Actor
	coach  accounts.Actor
	peer   accounts.Actor
	group  string
	t      *testing.T
	admins accounts.Actor
}

func newRetentionEnv(t *testing.T, d testsvc.Database) *retentionEnv {
	t.Helper()
	ctx := context.Background()
	db := d.Open(t)
	clk := &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	acc := accounts.New(db, discard, clk.now)
	e := &retentionEnv{clk: clk, acc: acc, log: &events{}, t: t, pol: policy.NewStore(db, clk.now)}
	e.clips = media.NewClips(db, acc, discard, clk.now)
	e.clips.Audit, e.clips.Policy = e.log, e.pol
	mk := func(email string, admin bool) accounts.Actor {
		u, err := acc.CreateUser(ctx, accounts.NewUser{Email: email, Name: email, Password: "a long enough password"}, admin)
		if err != nil {
			t.Fatal(err)
		}
		return u.Actor("session")
	}
	e.owner, e.coach, e.peer, e.admins = mk("owner@example.org", false), mk("coach@example.org", false), mk("peer@example.org", false), mk("admin@example.org", true)
	g, err := acc.CreateGroup(ctx, e.owner, accounts.GroupInput{Name: "Cohort"})
	if err != nil {
		t.Fatal(err)
	}
	e.group = g.ID
	for a, role := range map[*accounts.Actor]accounts.Role{&e.coach: accounts.RoleCoach, &e.peer: accounts.RolePeer} {
		inv, err := acc.CreateInvitation(ctx, e.owner, g.ID, accounts.InvitationInput{Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.AcceptInvitation(ctx, inv.Token, a, accounts.NewUser{}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *retentionEnv) setPolicy(p policy.Policy) {
	e.t.Helper()
	if _, err := e.pol.Save(context.Background(), p, e.admins.UserID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *retentionEnv) clip(title, group string) media.Clip {
	e.t.Helper()
	c, err := e.clips.Create(context.Background(), e.owner, media.NewClip{Title: title, GroupID: group})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *retentionEnv) run() media.RetentionReport {
	e.t.Helper()
	rep, err := e.clips.ApplyRetention(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func ids(items []media.RetentionItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ClipID)
	}
	return out
}

func day(n int) time.Duration { return time.Duration(n) * policy.Day }

// TestRetentionDeletesOnScheduleAfterWarning walks a term with a 30-day
// policy (warned 7 days ahead, keep up to 30 days longer) on both
// databases: the owner is warned, a kept clip survives its first date, a
// clip found past its date is warned before it goes, and every deletion is
// a hard delete recorded with the system as actor.
func TestRetentionDeletesOnScheduleAfterWarning(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), media.Migrations(), policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newRetentionEnv(t, d)
			t0 := e.clk.now()
			late := e.clip("Last year's lesson", "") // found past its date when the policy starts
			e.clk.set(t0.Add(day(35)))
			t1 := e.clk.now()
			a, b := e.clip("Lesson A", ""), e.clip("Lesson B", "")
			if a.Retention != nil {
				t.Fatalf("retention off: the clip shows a date: %+v", a.Retention)
			}
			if rep := e.run(); len(rep.Deleted)+len(rep.Warned) != 0 {
				t.Fatalf("retention off did something: %+v", rep)
			}
			e.setPolicy(policy.Policy{Retention: policy.Retention{Mode: "days", Days: 30, WarnDays: 7, AllowKeep: true, MaxKeepDays: 30}})

			// The first run finds the old clip past its date, never warned:
			// it gets WarnDays, not an immediate delete.
			rep := e.run()
			if len(rep.Deleted) != 0 || len(rep.Warned) != 1 || rep.Warned[0].ClipID != late.ID || !rep.Warned[0].DeleteAfter.Equal(t1.Add(day(7))) {
				t.Fatalf("first run: %+v", rep)
			}
			got, err := e.clips.Authorize(ctx, e.owner, accounts.ClipView, a.ID)
			if err != nil || got.Retention == nil || !got.Retention.DeleteAfter.Equal(t1.Add(day(30))) || got.Retention.Warning || !got.Retention.CanKeep {
				t.Fatalf("clip A's retention: %+v %v", got.Retention, err)
			}
			e.clk.set(t1.Add(day(6)))
			if rep := e.run(); len(rep.Deleted) != 0 {
				t.Fatalf("deleted before the warned date: %+v", rep)
			}
			e.clk.set(t1.Add(day(7)))
			if rep := e.run(); len(ids(rep.Deleted)) != 1 || rep.Deleted[0].ClipID != late.ID {
				t.Fatalf("the warned old clip is not deleted on its date: %+v", rep)
			}
			if _, err := e.clips.Authorize(ctx, e.owner, accounts.ClipView, late.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("the deleted clip is still there: %v", err)
			}
			ev, ok := e.log.find(audit.ClipDelete, late.ID)
			if !ok || ev.ActorID != "" || ev.ClipOwnerID != e.owner.UserID {
				t.Fatalf("clip.delete by the system not recorded: %+v %v", ev, ok)
			}

			// A and B enter the warning window together.
			e.clk.set(t1.Add(day(23)))
			rep = e.run()
			if len(rep.Warned) != 2 || len(rep.Deleted) != 0 {
				t.Fatalf("warning run: %+v", rep)
			}
			if _, ok := e.log.find(audit.ClipRetention, a.ID); !ok {
				t.Error("the warning is not in the audit log")
			}
			got, _ = e.clips.Authorize(ctx, e.owner, accounts.ClipView, b.ID)
			if got.Retention == nil || !got.Retention.Warning || !got.Retention.DeleteAfter.Equal(t1.Add(day(30))) {
				t.Fatalf("clip B shows no warning: %+v", got.Retention)
			}
			// The owner keeps B longer: within the limit, not beyond it.
			limit := t1.Add(day(60)).Format(time.DateOnly)
			beyond := t1.Add(day(61)).Format(time.DateOnly)
			var v *apperr.Validation
			if _, err := e.clips.Keep(ctx, e.owner, b.ID, media.KeepInput{Until: beyond}); !errors.As(err, &v) || v.Fields["until"] == "" {
				t.Fatalf("keep beyond the limit: %v", err)
			}
			if _, err := e.clips.Keep(ctx, e.owner, b.ID, media.KeepInput{Until: "2020-01-01"}); !errors.As(err, &v) {
				t.Fatalf("keep until a past date: %v", err)
			}
			if _, err := e.clips.Keep(ctx, e.peer, b.ID, media.KeepInput{}); err == nil {
				t.Fatal("someone else kept the owner's clip")
			}
			kept, err := e.clips.Keep(ctx, e.owner, b.ID, media.KeepInput{Until: t1.Add(day(50)).Format(time.DateOnly)})
			if err != nil {
				t.Fatal(err)
			}
			if kept.Retention == nil || kept.Retention.Warning || kept.Retention.KeptUntil == nil || kept.Retention.KeepLimit.Format(time.DateOnly) != limit {
				t.Fatalf("kept clip: %+v", kept.Retention)
			}

			e.clk.set(t1.Add(day(30)))
			rep = e.run()
			if got := ids(rep.Deleted); len(got) != 1 || got[0] != a.ID {
				t.Fatalf("day 30: deleted %v, want only A", got)
			}
			// B: warned again 7 days before its new date, deleted on it.
			keptDate, _ := time.Parse(time.DateOnly, t1.Add(day(50)).Format(time.DateOnly)) // "until" is the new deletion date
			e.clk.set(keptDate.Add(-day(7)))
			rep = e.run()
			e.clk.set(keptDate.Add(-time.Hour))
			if rep2 := e.run(); len(rep2.Deleted) != 0 {
				t.Fatalf("B deleted before its kept date: %+v", rep2)
			}
			if len(rep.Warned) != 1 {
				t.Fatalf("B is not warned again: %+v", rep)
			}
			e.clk.add(time.Hour)
			if got := ids(e.run().Deleted); len(got) != 1 || got[0] != b.ID {
				t.Fatalf("B not deleted on its kept date: %v", got)
			}

			// A policy that allows no extension refuses one.
			c := e.clip("Lesson C", "")
			e.setPolicy(policy.Policy{Retention: policy.Retention{Mode: "date", Date: "07-31", WarnDays: 14}})
			if _, err := e.clips.Keep(ctx, e.owner, c.ID, media.KeepInput{}); !errors.Is(err, apperr.ErrConflict) {
				t.Fatalf("keep with AllowKeep off: %v", err)
			}
		})
	}
}

// TestConsentPausesSharing: under a policy that requires consent, a clip
// that may show students and has none on file is seen only by its owner
// and the coaches of its groups; sharing it further is refused; recording
// consent (or that no students are visible) opens it again.
func TestConsentPausesSharing(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), media.Migrations(), policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newRetentionEnv(t, d)
			c := e.clip("Group lesson", e.group)
			if _, err := e.clips.Authorize(ctx, e.peer, accounts.ClipView, c.ID); err != nil {
				t.Fatalf("without the policy the peer sees the clip: %v", err)
			}
			e.setPolicy(policy.Policy{RequireConsent: true, Retention: policy.Retention{Mode: "off"}})
			if _, err := e.clips.Authorize(ctx, e.peer, accounts.ClipView, c.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("the peer still sees a clip without consent: %v", err)
			}
			if list, _ := e.clips.List(ctx, e.peer, media.ScopeShared, ""); len(list) != 0 {
				t.Fatalf("the peer's list shows it: %v", list)
			}
			got, err := e.clips.Authorize(ctx, e.coach, accounts.ClipView, c.ID)
			if err != nil || !got.Privacy.SharingPaused {
				t.Fatalf("the coach: %+v %v", got.Privacy, err)
			}
			_, err = e.clips.SetAudience(ctx, e.owner, c.ID, media.AudienceInput{GroupIDs: []string{e.group}, UserIDs: []string{e.peer.UserID}})
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != "consent_required" {
				t.Fatalf("sharing without consent: %v", err)
			}
			// Taking people out is always allowed.
			if _, err := e.clips.SetAudience(ctx, e.owner, c.ID, media.AudienceInput{GroupIDs: []string{e.group}}); err != nil {
				t.Fatalf("keeping the audience as it is: %v", err)
			}
			yes, on, note := "yes", true, "Forms signed, in the office"
			after, err := e.clips.SetPrivacy(ctx, e.owner, c.ID, media.PrivacyInput{StudentsVisible: &yes, ConsentOnFile: &on, ConsentNote: &note})
			if err != nil || after.Privacy.SharingPaused || after.Privacy.ConsentNote != note || after.Privacy.ConsentUpdatedAt == nil {
				t.Fatalf("record consent: %+v %v", after.Privacy, err)
			}
			if ev, ok := e.log.find(audit.ClipConsent, c.ID); !ok || ev.ActorID != e.owner.UserID {
				t.Fatalf("consent change not audited: %+v", ev)
			}
			peerView, err := e.clips.Authorize(ctx, e.peer, accounts.ClipView, c.ID)
			if err != nil || peerView.Privacy.ConsentNote != "" {
				t.Fatalf("with consent the peer sees the clip (not the note): %+v %v", peerView.Privacy, err)
			}
			bad := "maybe"
			if _, err := e.clips.SetPrivacy(ctx, e.owner, c.ID, media.PrivacyInput{StudentsVisible: &bad}); err == nil {
				t.Fatal("students visible \"maybe\" accepted")
			}
			if _, err := e.clips.SetPrivacy(ctx, e.peer, c.ID, media.PrivacyInput{ConsentOnFile: &on}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("a peer changed consent: %v", err)
			}
			// Consent at upload: a clip said to show no students is shared.
			c2, err := e.clips.Create(ctx, e.owner, media.NewClip{Title: "No faces", GroupID: e.group, Consent: media.ConsentInput{StudentsVisible: "no"}})
			if err != nil || c2.Privacy.StudentsVisible != "no" || c2.Privacy.SharingPaused {
				t.Fatalf("create with consent: %+v %v", c2.Privacy, err)
			}
			if _, err := e.clips.Authorize(ctx, e.peer, accounts.ClipView, c2.ID); err != nil {
				t.Fatalf("the peer does not see a clip without students: %v", err)
			}
		})
	}
}
