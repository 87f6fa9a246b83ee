package policy_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/privacy/policy"
)

func day(n int) time.Duration { return time.Duration(n) * policy.Day }

func TestPlanWarnsBeforeDeleting(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	p := policy.Policy{Retention: policy.Retention{Mode: policy.RetentionDays, Days: 30, WarnDays: 7}}
	due := t0.Add(day(30))
	for _, c := range []struct {
		name string
		d    policy.ClipDates
		now  time.Time
		want policy.Plan
	}{
		{"long before", policy.ClipDates{Created: t0}, t0.Add(day(10)), policy.Plan{DeleteAfter: due}},
		{"inside the warning window", policy.ClipDates{Created: t0}, t0.Add(day(23)), policy.Plan{DeleteAfter: due, Warn: true, Announce: due}},
		{"warned, not yet", policy.ClipDates{Created: t0, Announced: due}, t0.Add(day(29)), policy.Plan{DeleteAfter: due, Warn: true}},
		{"warned, the day came", policy.ClipDates{Created: t0, Announced: due}, due, policy.Plan{DeleteAfter: due, Warn: true, Due: true}},
		// Never warned and already past its date: WarnDays from now.
		{"past and never warned", policy.ClipDates{Created: t0}, t0.Add(day(40)), policy.Plan{DeleteAfter: t0.Add(day(47)), Warn: true, Announce: t0.Add(day(47))}},
		// An extension beyond the warned date needs a new warning.
		{"kept longer after a warning", policy.ClipDates{Created: t0, KeepUntil: t0.Add(day(50)), Announced: due}, t0.Add(day(30)), policy.Plan{DeleteAfter: t0.Add(day(50))}},
		{"kept longer, its window", policy.ClipDates{Created: t0, KeepUntil: t0.Add(day(50))}, t0.Add(day(43)), policy.Plan{DeleteAfter: t0.Add(day(50)), Warn: true, Announce: t0.Add(day(50))}},
	} {
		if got := p.Plan(c.d, c.now); got != c.want {
			t.Errorf("%s: plan %+v, want %+v", c.name, got, c.want)
		}
	}
	if got := policy.Default().Plan(policy.ClipDates{Created: t0}, t0.Add(day(4000))); got != (policy.Plan{}) {
		t.Errorf("retention off: %+v, want nothing", got)
	}
}

func TestPolicyDateEndOfYear(t *testing.T) {
	t.Parallel()
	p := policy.Policy{Retention: policy.Retention{Mode: policy.RetentionDate, Date: "07-31"}}
	for _, c := range []struct{ created, want time.Time }{
		{time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC), time.Date(2027, 7, 31, 0, 0, 0, 0, time.UTC)},
		{time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC), time.Date(2027, 7, 31, 0, 0, 0, 0, time.UTC)},
		{time.Date(2027, 7, 31, 8, 0, 0, 0, time.UTC), time.Date(2028, 7, 31, 0, 0, 0, 0, time.UTC)},
	} {
		if got := p.PolicyDate(c.created); !got.Equal(c.want) {
			t.Errorf("uploaded %s: deleted %s, want %s", c.created, got, c.want)
		}
	}
	p.Retention.AllowKeep, p.Retention.MaxKeepDays = true, 30
	limit, ok := p.KeepLimit(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	if !ok || !limit.Equal(time.Date(2027, 8, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("keep limit %s %v", limit, ok)
	}
}

func TestValidateSaysWhatToChange(t *testing.T) {
	t.Parallel()
	ok := []policy.Policy{
		policy.Default(),
		{Retention: policy.Retention{Mode: "days", Days: 365, WarnDays: 14, AllowKeep: true, MaxKeepDays: 365}},
		{Retention: policy.Retention{Mode: "date", Date: "12-31", WarnDays: 0}},
	}
	for _, p := range ok {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	bad := map[string]policy.Retention{
		"retention.days":          {Mode: "days", Days: 0},
		"retention.warn_days":     {Mode: "days", Days: 10, WarnDays: 10},
		"retention.date":          {Mode: "date", Date: "02-29"},
		"retention.mode":          {Mode: "forever"},
		"retention.max_keep_days": {Mode: "off", AllowKeep: true},
	}
	for field, r := range bad {
		err := policy.Policy{Retention: r}.Validate()
		var v *apperr.Validation
		if !errors.As(err, &v) || v.Fields[field] == "" {
			t.Errorf("%+v: %v, want a complaint about %s", r, err, field)
		}
	}
	for _, s := range []string{"13-01", "00-10", "02-30", "7-31", "07/31", "", "ab-cd", "04-31"} {
		if _, _, err := policy.ParseMonthDay(s); err == nil {
			t.Errorf("ParseMonthDay(%q) accepted", s)
		}
	}
}

func TestStoreSavesAndCaches(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			s, other := policy.NewStore(db, clock), policy.NewStore(db, clock)
			p, err := s.Current(ctx)
			if err != nil || p.DownloadsAllowed || p.Retention.Mode != policy.RetentionOff || p.UpdatedAt != nil {
				t.Fatalf("default policy: %+v %v", p, err)
			}
			if _, err := other.Current(ctx); err != nil { // cached on the other node
				t.Fatal(err)
			}
			in := policy.Policy{RequireConsent: true, DownloadsAllowed: true, Retention: policy.Retention{Mode: "date", Date: "07-31", WarnDays: 21, AllowKeep: true, MaxKeepDays: 90}}
			saved, err := s.Save(ctx, in, "admin-1")
			if err != nil {
				t.Fatal(err)
			}
			if !saved.RequireConsent || saved.Retention != in.Retention || saved.UpdatedBy != "admin-1" || saved.UpdatedAt == nil {
				t.Fatalf("saved %+v", saved)
			}
			if p, _ := other.Current(ctx); p.DownloadsAllowed {
				t.Fatal("the other node's cache is fresh for CacheTTL")
			}
			now = now.Add(policy.CacheTTL)
			if p, _ := other.Current(ctx); !p.DownloadsAllowed || p.Retention.Date != "07-31" {
				t.Fatalf("after CacheTTL the other node reads %+v", p)
			}
			if _, err := s.Save(ctx, policy.Policy{Retention: policy.Retention{Mode: "days", Days: 0}}, "admin-1"); err == nil {
				t.Fatal("an invalid policy was saved")
			}
			if _, err := s.Save(ctx, policy.Default(), "admin-2"); err != nil { // the upsert's update branch
				t.Fatal(err)
			}
			if p, _ := s.Fresh(ctx); p.DownloadsAllowed || p.UpdatedBy != "admin-2" {
				t.Fatalf("second save: %+v", p)
			}
		})
	}
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(policy.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			own := []sqldb.Migrations{policy.Migrations()}
			if err := db.Down(ctx, own); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := db.Writer().Exec(ctx, `SELECT 1 FROM privacy_policy`); err == nil {
				t.Fatal("privacy_policy survived Down")
			}
			if n, err := db.Up(ctx, own); err != nil || n != 1 {
				t.Fatalf("up again = %d, %v", n, err)
			}
			if _, err := db.Check(ctx, own); err != nil {
				t.Fatal(err)
			}
		})
	}
}
