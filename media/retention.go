package media

import (
	"context"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/privacy/policy"
)

// Retention: the site's policy deletes clips some time after upload (or at
// the end of the school year), after warning their owners; owners may keep
// a clip longer where the policy allows (Keep). ApplyRetention is the daily
// job; the dates come from policy.Plan.

// KeepInput asks to keep a clip until a date ("YYYY-MM-DD"); empty means
// as long as the policy allows.
type KeepInput struct {
	Until string `json:"until"`
}

// Keep extends the clip's retention (its owner only).
func (s *Clips) Keep(ctx context.Context, a accounts.Actor, clipID string, in KeepInput) (Clip, error) {
	c, err := s.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return c, err
	}
	if a.UserID != c.Owner.ID {
		return Clip{}, apperr.Forbidden("only the clip's owner can keep it longer")
	}
	p := policy.Default()
	if s.Policy != nil {
		if p, err = s.Policy.Fresh(ctx); err != nil {
			return c, err
		}
	}
	if p.PolicyDate(c.dates.Created).IsZero() {
		return c, apperr.New(apperr.ErrConflict, "retention_off", "your school keeps clips until they are deleted; there is nothing to extend")
	}
	limit, ok := p.KeepLimit(c.dates.Created)
	if !ok {
		return c, apperr.New(apperr.ErrConflict, "keep_not_allowed",
			"your school's retention policy does not let owners keep clips longer; export the clip (Account → Export my data) to keep a copy")
	}
	until := limit
	if in.Until != "" {
		d, err := time.Parse(time.DateOnly, in.Until)
		if err != nil {
			return c, apperr.Invalid("until", "write the date as YYYY-MM-DD")
		}
		until = d.UTC()
	}
	now := s.now()
	switch {
	case until.After(limit):
		return c, apperr.Invalid("until", "your school's policy lets you keep this clip until %s at the latest", limit.Format(time.DateOnly))
	case !until.After(now):
		return c, apperr.Invalid("until", "choose a date after today")
	case c.Retention != nil && !until.After(c.Retention.DeleteAfter):
		return c, apperr.Invalid("until", "the clip is kept until %s already; choose a later date", c.Retention.DeleteAfter.Format(time.DateOnly))
	}
	// A new date needs a new warning: the old one is forgotten.
	if _, err := s.db.Writer().Exec(ctx, `UPDATE clips SET keep_until = ?, delete_on = 0, delete_warned_at = 0, updated_at = ? WHERE id = ?`,
		sqldb.Millis(until), sqldb.Millis(now), clipID); err != nil {
		return c, fmt.Errorf("keep clip %s: %w", clipID, err)
	}
	s.record(ctx, a, audit.ClipRetention, c, "", "kept until "+until.Format(time.DateOnly))
	return s.Authorize(ctx, a, accounts.ClipView, clipID)
}

// RetentionItem names a clip the retention job acted on.
type RetentionItem struct {
	ClipID      string    `json:"clip_id"`
	Title       string    `json:"title"`
	OwnerID     string    `json:"owner_id"`
	DeleteAfter time.Time `json:"delete_after"`
}

// RetentionReport is what one run of the retention job did.
type RetentionReport struct {
	RanAt   time.Time       `json:"ran_at"`
	Mode    string          `json:"mode"`
	Deleted []RetentionItem `json:"deleted"`
	Warned  []RetentionItem `json:"warned"`
	// Failed lists clips that could not be deleted (tried again next run).
	Failed []RetentionItem `json:"failed"`
}

// ApplyRetention runs the retention policy once: it warns the owners of
// clips whose date is within the warning days (recording the date), and
// deletes (Purge, the hard delete) clips whose warned date has come,
// recording clip.delete with the system as actor. With retention off it
// forgets earlier warnings, so a policy turned on again warns afresh.
func (s *Clips) ApplyRetention(ctx context.Context) (RetentionReport, error) {
	now := s.now()
	rep := RetentionReport{RanAt: now, Deleted: []RetentionItem{}, Warned: []RetentionItem{}, Failed: []RetentionItem{}}
	if s.Policy == nil {
		rep.Mode = policy.RetentionOff
		return rep, nil
	}
	p, err := s.Policy.Fresh(ctx)
	if err != nil {
		return rep, err
	}
	rep.Mode = p.Retention.Mode
	if p.Retention.Mode == policy.RetentionOff {
		if _, err := s.db.Writer().Exec(ctx, `UPDATE clips SET delete_on = 0, delete_warned_at = 0 WHERE delete_on <> 0`); err != nil {
			return rep, fmt.Errorf("retention: forget warnings: %w", err)
		}
		return rep, nil
	}
	type row struct {
		id, title, owner string
		dates            policy.ClipDates
	}
	rows, err := s.db.Reader().Query(ctx, `SELECT id, title, owner_id, created_at, keep_until, delete_on FROM clips ORDER BY created_at, id`)
	if err != nil {
		return rep, fmt.Errorf("retention: list clips: %w", err)
	}
	var all []row
	for rows.Next() {
		var r row
		var created, keep, del int64
		if err := rows.Scan(&r.id, &r.title, &r.owner, &created, &keep, &del); err != nil {
			rows.Close()
			return rep, fmt.Errorf("retention: list clips: %w", err)
		}
		r.dates = policy.ClipDates{Created: sqldb.Time(created), KeepUntil: msTime(keep), Announced: msTime(del)}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("retention: list clips: %w", err)
	}
	system := accounts.Actor{} // the log names no person for the system's own job
	for _, r := range all {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		plan := p.Plan(r.dates, now)
		item := RetentionItem{ClipID: r.id, Title: r.title, OwnerID: r.owner, DeleteAfter: plan.DeleteAfter}
		c := Clip{ID: r.id, Title: r.title, Owner: Person{ID: r.owner}}
		switch {
		case plan.Due:
			// Another serve node's run may have deleted it meanwhile.
			if gone, err := s.clipGone(ctx, r.id); err != nil || gone {
				continue
			}
			if err := s.Purge(ctx, r.id); err != nil {
				s.log.Error("Retention could not delete a clip; it is tried again on the next run.", "clip_id", r.id, "error", err)
				rep.Failed = append(rep.Failed, item)
				continue
			}
			s.record(ctx, system, audit.ClipDelete, c, "", "retention policy: deleted on "+plan.DeleteAfter.Format(time.DateOnly))
			rep.Deleted = append(rep.Deleted, item)
		case !plan.Announce.IsZero():
			// Conditional on what was read, so that of two nodes running the
			// job at once only one warns (and records it).
			res, err := s.db.Writer().Exec(ctx, `UPDATE clips SET delete_on = ?, delete_warned_at = ? WHERE id = ? AND delete_on = ?`,
				sqldb.Millis(plan.Announce), sqldb.Millis(now), r.id, msOrZero(r.dates.Announced))
			if err != nil {
				return rep, fmt.Errorf("retention: warn clip %s: %w", r.id, err)
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				continue
			}
			s.record(ctx, system, audit.ClipRetention, c, "", "retention policy: owner warned of deletion on "+plan.Announce.Format(time.DateOnly))
			rep.Warned = append(rep.Warned, item)
		}
	}
	if len(rep.Deleted)+len(rep.Warned)+len(rep.Failed) > 0 {
		s.log.Info("Retention policy applied.", "deleted", len(rep.Deleted), "warned", len(rep.Warned), "failed", len(rep.Failed))
	}
	return rep, nil
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return sqldb.Millis(t)
}
