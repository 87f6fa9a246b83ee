package media

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
	"github.com/filmroom/filmroom/privacy/policy"
)

// Consent and sensitivity of a clip, its owner's download switch, and how
// the site's privacy policy applies to both: a clip that may show students
// (students visible "yes" or "unknown") without consent on file is, while
// the policy requires consent, seen only by its owner and the coaches of
// its groups, and cannot be shared further; a download needs the site and
// the clip to allow it.

// Students visible values.
const (
	StudentsYes     = "yes"
	StudentsNo      = "no"
	StudentsUnknown = "unknown"
)

// MaxConsentNote bounds the owner's note about consent.
const MaxConsentNote = 1000

// PolicySource is the site's privacy policy (privacy/policy.Store).
type PolicySource interface {
	Current(ctx context.Context) (policy.Policy, error)
	Fresh(ctx context.Context) (policy.Policy, error)
}

// ClipPrivacy is a clip's consent and download state as the API shows it.
type ClipPrivacy struct {
	// StudentsVisible is yes, no or unknown (nobody said).
	StudentsVisible string `json:"students_visible"`
	ConsentOnFile   bool   `json:"consent_on_file"`
	// ConsentNote is the owner's note (which form, who signed); shown to
	// those who may edit the clip only.
	ConsentNote      string     `json:"consent_note,omitempty"`
	ConsentUpdatedAt *time.Time `json:"consent_updated_at,omitempty"`
	// DownloadsAllowed is the owner's switch; CanDownload is whether a
	// download works now (the site allows downloads too).
	DownloadsAllowed bool `json:"downloads_allowed"`
	SiteDownloads    bool `json:"site_downloads"`
	CanDownload      bool `json:"can_download"`
	// ConsentRequired: the site asks for consent before sharing clips that
	// may show students. SharingPaused: this clip is such a clip without
	// consent, so only its owner and the coaches of its groups see it.
	ConsentRequired bool `json:"consent_required"`
	SharingPaused   bool `json:"sharing_paused"`
}

// Retention says when the retention policy deletes a clip.
type Retention struct {
	DeleteAfter time.Time `json:"delete_after"`
	// Warning: the date is near (within the policy's warning days).
	Warning bool `json:"warning"`
	// KeptUntil is the owner's extension, if any.
	KeptUntil *time.Time `json:"kept_until,omitempty"`
	// CanKeep: the owner may keep it longer, until KeepLimit at most.
	CanKeep   bool       `json:"can_keep"`
	KeepLimit *time.Time `json:"keep_limit,omitempty"`
}

const privacyCols = `c.students_visible, c.consent_on_file, c.consent_note, c.consent_at, c.downloads_allowed, c.keep_until, c.delete_on`

func msTime(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return sqldb.Time(ms)
}

// scanPrivacy fills what scanClip read into the clip's privacy fields.
func (c *Clip) scanPrivacy(consentAt, keepUntil, deleteOn int64) {
	if consentAt != 0 {
		t := sqldb.Time(consentAt)
		c.Privacy.ConsentUpdatedAt = &t
	}
	c.dates = policy.ClipDates{Created: c.CreatedAt, KeepUntil: msTime(keepUntil), Announced: msTime(deleteOn)}
}

// currentPolicy is the policy in force (the default without a source).
func (s *Clips) currentPolicy(ctx context.Context) (policy.Policy, error) {
	if s.Policy == nil {
		return policy.Default(), nil
	}
	return s.Policy.Current(ctx)
}

// needsConsent reports whether the policy holds a clip with these facts
// back from its audience.
func needsConsent(p policy.Policy, studentsVisible string, consentOnFile bool) bool {
	return p.RequireConsent && studentsVisible != StudentsNo && !consentOnFile
}

// applyPolicy fills in what the policy says about each clip.
func (s *Clips) applyPolicy(ctx context.Context, clips ...*Clip) error {
	if len(clips) == 0 {
		return nil
	}
	p, err := s.currentPolicy(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	for _, c := range clips {
		pr := &c.Privacy
		pr.ConsentRequired = p.RequireConsent
		pr.SharingPaused = needsConsent(p, pr.StudentsVisible, pr.ConsentOnFile)
		pr.SiteDownloads = p.DownloadsAllowed
		pr.CanDownload = p.DownloadsAllowed && pr.DownloadsAllowed
		c.Retention = nil
		plan := p.Plan(c.dates, now)
		if plan.DeleteAfter.IsZero() {
			continue
		}
		r := &Retention{DeleteAfter: plan.DeleteAfter, Warning: plan.Warn}
		if !c.dates.KeepUntil.IsZero() {
			k := c.dates.KeepUntil
			r.KeptUntil = &k
		}
		if limit, ok := p.KeepLimit(c.dates.Created); ok {
			r.KeepLimit = &limit
			r.CanKeep = plan.DeleteAfter.Before(limit)
		}
		c.Retention = r
	}
	return nil
}

// can is the policy's decision for this clip: accounts.CanClip, except
// that a clip whose sharing the privacy policy paused is open only to its
// owner and to the coaches of its groups (named people lose access in
// Access; here group members other than coaches do).
func (c Clip) can(a accounts.Actor, m accounts.Memberships, act accounts.Action) bool {
	if c.Privacy.SharingPaused && a.UserID != c.Owner.ID {
		coaches := accounts.Memberships{}
		for g, r := range m {
			if r == accounts.RoleCoach {
				coaches[g] = r
			}
		}
		m = coaches
	}
	return accounts.CanClip(a, m, act, c.Access())
}

// privacyForViewer hides the consent note from those who may not edit the
// clip, and the keep-longer offer from all but the owner.
func (c *Clip) privacyForViewer(a accounts.Actor, canEdit bool) {
	if !canEdit {
		c.Privacy.ConsentNote = ""
	}
	if c.Retention != nil && a.UserID != c.Owner.ID {
		r := *c.Retention
		r.CanKeep, r.KeepLimit = false, nil
		c.Retention = &r
	}
}

// ErrConsentRequired refuses to share a clip the policy holds back.
var ErrConsentRequired = apperr.New(apperr.ErrConflict, "consent_required",
	"this clip may show students and no consent is on file, and your school requires consent before clips are shared: "+
		"record the consent in the clip's privacy settings (or say that no students are visible), then share it. "+
		"Until then only you and the coaches of its groups can see it")

// checkShare refuses an audience that adds anyone to a clip whose sharing
// the policy paused; taking people out is always allowed.
func (c Clip) checkShare(in AudienceInput) error {
	if !c.Privacy.SharingPaused {
		return nil
	}
	have := map[string]bool{}
	for _, u := range c.Audience.Users {
		have["u:"+u.ID] = true
	}
	for _, g := range c.Audience.Groups {
		have["g:"+g.ID] = true
	}
	for _, e := range c.Audience.Emails {
		have["e:"+e] = true
	}
	for _, u := range in.UserIDs {
		if !have["u:"+u] && u != c.Owner.ID {
			return ErrConsentRequired
		}
	}
	for _, g := range in.GroupIDs {
		if !have["g:"+g] {
			return ErrConsentRequired
		}
	}
	for _, e := range in.Emails {
		if !have["e:"+strings.ToLower(strings.TrimSpace(e))] {
			return ErrConsentRequired
		}
	}
	return nil
}

// ConsentInput is what the owner says about consent at upload.
type ConsentInput struct {
	StudentsVisible string
	ConsentOnFile   bool
}

// ConsentFromMeta reads the consent an upload's tus metadata carries
// (students_visible: yes, no or unknown; consent_on_file: true or false).
func ConsentFromMeta(meta map[string]string) (ConsentInput, error) {
	in := ConsentInput{StudentsVisible: StudentsUnknown}
	if v := meta["students_visible"]; v != "" {
		in.StudentsVisible = v
	}
	if !validStudents(in.StudentsVisible) {
		return in, apperr.Invalid("students_visible", "say yes, no or unknown")
	}
	switch meta["consent_on_file"] {
	case "", "false":
	case "true":
		in.ConsentOnFile = true
	default:
		return in, apperr.Invalid("consent_on_file", "say true or false")
	}
	return in, nil
}

func validStudents(v string) bool {
	return v == StudentsYes || v == StudentsNo || v == StudentsUnknown
}

// storeConsent writes what the owner said at upload into the new clip's row.
func storeConsent(ctx context.Context, q sqldb.Q, clipID string, in ConsentInput, now int64) error {
	if in.StudentsVisible == "" {
		in.StudentsVisible = StudentsUnknown
	}
	if !validStudents(in.StudentsVisible) {
		return apperr.Invalid("students_visible", "say yes, no or unknown")
	}
	if in.StudentsVisible == StudentsUnknown && !in.ConsentOnFile {
		return nil // the column defaults
	}
	if _, err := q.Exec(ctx, `UPDATE clips SET students_visible = ?, consent_on_file = ?, consent_at = ? WHERE id = ?`,
		in.StudentsVisible, in.ConsentOnFile, now, clipID); err != nil {
		return fmt.Errorf("store consent of clip %s: %w", clipID, err)
	}
	return nil
}

// checkUploadShare refuses, before any byte is sent, an upload that names
// a group while the policy would hold its clip back from it.
func (s *Clips) checkUploadShare(ctx context.Context, in ConsentInput, groupID string) error {
	if groupID == "" {
		return nil
	}
	p, err := s.currentPolicy(ctx)
	if err != nil {
		return err
	}
	if needsConsent(p, in.StudentsVisible, in.ConsentOnFile) {
		return ErrConsentRequired
	}
	return nil
}

// PrivacyInput changes a clip's consent and download switch; nil fields
// stay.
type PrivacyInput struct {
	StudentsVisible  *string `json:"students_visible"`
	ConsentOnFile    *bool   `json:"consent_on_file"`
	ConsentNote      *string `json:"consent_note"`
	DownloadsAllowed *bool   `json:"downloads_allowed"`
}

// SetPrivacy records consent and the download switch (the owner only), and
// audits each change.
func (s *Clips) SetPrivacy(ctx context.Context, a accounts.Actor, clipID string, in PrivacyInput) (Clip, error) {
	c, err := s.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return c, err
	}
	before := c.Privacy
	pr := c.Privacy
	v := &apperr.Validation{}
	if in.StudentsVisible != nil {
		if !validStudents(*in.StudentsVisible) {
			v.Add("students_visible", "say yes, no or unknown")
		}
		pr.StudentsVisible = *in.StudentsVisible
	}
	if in.ConsentOnFile != nil {
		pr.ConsentOnFile = *in.ConsentOnFile
	}
	if in.ConsentNote != nil {
		pr.ConsentNote = strings.TrimSpace(*in.ConsentNote)
		if prob := textcheck.Block(pr.ConsentNote); prob != "" {
			v.Add("consent_note", "%s", prob)
		} else if utf8.RuneCountInString(pr.ConsentNote) > MaxConsentNote {
			v.Add("consent_note", "use at most %d characters", MaxConsentNote)
		}
	}
	if in.DownloadsAllowed != nil {
		pr.DownloadsAllowed = *in.DownloadsAllowed
	}
	if err := v.Err(); err != nil {
		return c, err
	}
	consentChanged := pr.StudentsVisible != before.StudentsVisible || pr.ConsentOnFile != before.ConsentOnFile || pr.ConsentNote != before.ConsentNote
	now := sqldb.Millis(s.now())
	consentAt := int64(0)
	if before.ConsentUpdatedAt != nil {
		consentAt = sqldb.Millis(*before.ConsentUpdatedAt)
	}
	if consentChanged {
		consentAt = now
	}
	if _, err := s.db.Writer().Exec(ctx, `UPDATE clips SET students_visible = ?, consent_on_file = ?, consent_note = ?, consent_at = ?,
		downloads_allowed = ?, updated_at = ? WHERE id = ?`, pr.StudentsVisible, pr.ConsentOnFile, pr.ConsentNote, consentAt,
		pr.DownloadsAllowed, now, clipID); err != nil {
		return c, fmt.Errorf("set privacy of clip %s: %w", clipID, err)
	}
	if consentChanged {
		s.record(ctx, a, audit.ClipConsent, c, "", fmt.Sprintf("students visible: %s; consent on file: %s",
			pr.StudentsVisible, yesNo(pr.ConsentOnFile)))
	}
	if pr.DownloadsAllowed != before.DownloadsAllowed {
		s.record(ctx, a, audit.SettingsChanged, c, "downloads", "downloads allowed: "+yesNo(pr.DownloadsAllowed))
	}
	// Recording (or withdrawing) consent can give or take access.
	s.acc.AccessChanged(ctx, accounts.AccessChange{ClipID: clipID})
	return s.Authorize(ctx, a, accounts.ClipView, clipID)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Download refusals.
var (
	ErrDownloadsOffSite = apperr.Forbidden("downloads are turned off for this site: watch the clip in filmroom, " +
		"or ask a site admin to allow downloads in the privacy settings")
	ErrDownloadsOffClip = apperr.Forbidden("the clip's owner has not allowed downloads of this clip: watch it in filmroom, " +
		"or ask the owner to allow downloads in the clip's privacy settings")
)

// mayDownload says why a download of c is refused, if it is.
func mayDownload(c Clip) error {
	switch {
	case !c.Privacy.SiteDownloads:
		return ErrDownloadsOffSite
	case !c.Privacy.DownloadsAllowed:
		return ErrDownloadsOffClip
	}
	return nil
}

// visibleClipUnder is the SQL condition "the actor may view clip c" under
// the policy p, for queries that search many clips at once (transcript
// search): visibleClip, except that while consent is required a clip that
// needs it is visible only to its owner and the coaches of its groups, as
// in can. It returns the condition and its arguments.
func visibleClipUnder(p policy.Policy, userID string) (string, []any) {
	if !p.RequireConsent {
		return visibleClip, []any{userID, userID, userID, userID}
	}
	// SQLite stores BOOLEAN as 0/1 and PostgreSQL as boolean; NOT reads both.
	cond := `(c.owner_id = ?
	OR (NOT (c.students_visible <> 'no' AND NOT c.consent_on_file) AND (
		EXISTS (SELECT 1 FROM clip_audience_users au WHERE au.clip_id = c.id AND au.user_id = ?)
		OR EXISTS (SELECT 1 FROM clip_audience_emails ae WHERE ae.clip_id = c.id AND ae.user_id = ?)
		OR EXISTS (SELECT 1 FROM clip_audience_groups ag JOIN group_members m ON m.group_id = ag.group_id
			JOIN groups g ON g.id = ag.group_id WHERE ag.clip_id = c.id AND m.user_id = ? AND g.archived_at IS NULL)))
	OR EXISTS (SELECT 1 FROM clip_audience_groups ag JOIN group_members m ON m.group_id = ag.group_id
		JOIN groups g ON g.id = ag.group_id WHERE ag.clip_id = c.id AND m.user_id = ? AND m.role = 'coach' AND g.archived_at IS NULL))`
	return cond, []any{userID, userID, userID, userID, userID}
}
