package policy

import (
	"fmt"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
)

// Retention modes.
const (
	RetentionOff  = "off"
	RetentionDays = "days"
	RetentionDate = "date"
)

// Limits of the settings, so that a typo cannot keep clips for ever or
// delete them tomorrow.
const (
	MaxRetentionDays = 3650
	MaxWarnDays      = 365
	MaxKeepDays      = 3650
)

// Day is the unit of every retention setting.
const Day = 24 * time.Hour

// Retention is how long clips are kept.
type Retention struct {
	// Mode is off, days (Days after upload) or date (the first Date, a
	// month-day like "07-31", after upload: the end of the school year).
	Mode string `json:"mode"`
	Days int    `json:"days"`
	Date string `json:"date"`
	// WarnDays is how long before deletion owners see a warning; a clip
	// is never deleted less than WarnDays after its owner was warned.
	WarnDays int `json:"warn_days"`
	// AllowKeep lets owners keep a clip longer, by at most MaxKeepDays past
	// the date the policy gives it.
	AllowKeep   bool `json:"allow_keep"`
	MaxKeepDays int  `json:"max_keep_days"`
}

// Policy is the site's privacy policy.
type Policy struct {
	// RequireConsent: a clip whose students may be visible (students
	// visible "yes" or "unknown") and that has no consent on file is seen
	// only by its owner and the coaches of its groups, and cannot be shared.
	RequireConsent bool `json:"require_consent"`
	// DownloadsAllowed lets clips be downloaded where their owner allows it
	// too; off by default.
	DownloadsAllowed bool      `json:"downloads_allowed"`
	Retention        Retention `json:"retention"`
	// UpdatedAt and UpdatedBy say when and by whom it was last saved (zero
	// and empty for the defaults).
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
	UpdatedBy string     `json:"updated_by,omitempty"`
}

// Default is the policy of a site whose admins never saved one: sharing as
// owners choose, downloads off, clips kept until deleted.
func Default() Policy {
	return Policy{Retention: Retention{Mode: RetentionOff, WarnDays: 14}}
}

// Validate checks every field and says what to change.
func (p Policy) Validate() error {
	v := &apperr.Validation{}
	r := p.Retention
	switch r.Mode {
	case RetentionOff:
	case RetentionDays:
		if r.Days < 1 || r.Days > MaxRetentionDays {
			v.Add("retention.days", "keep clips between 1 and %d days", MaxRetentionDays)
		} else if r.WarnDays >= r.Days {
			v.Add("retention.warn_days", "warn fewer days ahead than clips are kept (%d)", r.Days)
		}
	case RetentionDate:
		if _, _, err := ParseMonthDay(r.Date); err != nil {
			v.Add("retention.date", "%s", err.Error())
		}
	default:
		v.Add("retention.mode", "choose off, days or date")
	}
	if r.WarnDays < 0 || r.WarnDays > MaxWarnDays {
		v.Add("retention.warn_days", "warn between 0 and %d days ahead", MaxWarnDays)
	}
	if r.MaxKeepDays < 0 || r.MaxKeepDays > MaxKeepDays {
		v.Add("retention.max_keep_days", "allow between 0 and %d more days", MaxKeepDays)
	} else if r.AllowKeep && r.MaxKeepDays == 0 {
		v.Add("retention.max_keep_days", "say by how many days at most owners may keep a clip longer")
	}
	return v.Err()
}

// ParseMonthDay reads a month-day like "07-31". February 29 is refused:
// it would skip three years in four.
func ParseMonthDay(s string) (time.Month, int, error) {
	var m, d int
	if len(s) != 5 || s[2] != '-' {
		return 0, 0, fmt.Errorf("write the date as MM-DD, like 07-31")
	}
	if _, err := fmt.Sscanf(s, "%02d-%02d", &m, &d); err != nil {
		return 0, 0, fmt.Errorf("write the date as MM-DD, like 07-31")
	}
	if m == 2 && d == 29 {
		return 0, 0, fmt.Errorf("02-29 does not come every year; use 02-28 or 03-01")
	}
	t := time.Date(2025, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if m < 1 || m > 12 || d < 1 || t.Month() != time.Month(m) || t.Day() != d {
		return 0, 0, fmt.Errorf("%s is not a date of the year; write MM-DD, like 07-31", s)
	}
	return time.Month(m), d, nil
}

// PolicyDate is when the policy alone (no extension, no warning) has a
// clip uploaded at created deleted; zero when retention is off.
func (p Policy) PolicyDate(created time.Time) time.Time {
	r := p.Retention
	created = created.UTC()
	switch r.Mode {
	case RetentionDays:
		if r.Days > 0 {
			return created.Add(time.Duration(r.Days) * Day)
		}
	case RetentionDate:
		m, d, err := ParseMonthDay(r.Date)
		if err != nil {
			return time.Time{}
		}
		t := time.Date(created.Year(), m, d, 0, 0, 0, 0, time.UTC)
		if !t.After(created) {
			t = t.AddDate(1, 0, 0)
		}
		return t
	}
	return time.Time{}
}

// KeepLimit is the latest date an owner may keep the clip until, and
// whether they may keep it longer at all.
func (p Policy) KeepLimit(created time.Time) (time.Time, bool) {
	base := p.PolicyDate(created)
	if base.IsZero() || !p.Retention.AllowKeep || p.Retention.MaxKeepDays <= 0 {
		return time.Time{}, false
	}
	return base.Add(time.Duration(p.Retention.MaxKeepDays) * Day), true
}

// ClipDates are what retention knows of one clip: when it was uploaded,
// until when its owner chose to keep it (zero: not extended), and the
// deletion date its owner was warned of (zero: not warned).
type ClipDates struct {
	Created, KeepUntil, Announced time.Time
}

// Plan is what the policy says about one clip now.
type Plan struct {
	// DeleteAfter is when the clip will be deleted; zero when it is kept.
	DeleteAfter time.Time
	// Warn: the date is within the warning window; the owner is told.
	Warn bool
	// Announce, when set, is the date a warning given now announces: the
	// job records it (a clip is deleted only on a date it announced).
	Announce time.Time
	// Due: the owner was warned of DeleteAfter, and it has come.
	Due bool
}

// Plan applies the policy to one clip at now. A clip is deleted only on a
// date its owner was warned of at least WarnDays before: a clip found past
// its date that was never warned gets now+WarnDays. A warning counts while
// the date it gave is not earlier than the policy's date (an extension or
// a longer policy moves the date later and needs a new warning; a shorter
// policy never moves a warned date earlier).
func (p Policy) Plan(d ClipDates, now time.Time) Plan {
	base := p.PolicyDate(d.Created)
	if base.IsZero() {
		return Plan{}
	}
	if d.KeepUntil.After(base) {
		base = d.KeepUntil
	}
	warn := time.Duration(p.Retention.WarnDays) * Day
	if !d.Announced.IsZero() && !d.Announced.Before(base) {
		return Plan{DeleteAfter: d.Announced, Warn: true, Due: !now.Before(d.Announced)}
	}
	if now.Before(base.Add(-warn)) {
		return Plan{DeleteAfter: base}
	}
	at := base
	if floor := now.Add(warn); at.Before(floor) {
		at = floor
	}
	return Plan{DeleteAfter: at, Warn: true, Announce: at}
}

// Public is the part of the policy every signed-in user reads (the web
// app shows the controls and warnings it implies).
type Public struct {
	RequireConsent   bool      `json:"require_consent"`
	DownloadsAllowed bool      `json:"downloads_allowed"`
	Retention        Retention `json:"retention"`
}

// Public returns what every signed-in user may read.
func (p Policy) Public() Public {
	return Public{RequireConsent: p.RequireConsent, DownloadsAllowed: p.DownloadsAllowed, Retention: p.Retention}
}
