package media

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
	"github.com/filmroom/filmroom/privacy/policy"
)

// Status is where a clip is on its way from upload to playback.
type Status string

// The clip statuses, in pipeline order.
const (
	StatusUploading   Status = "uploading"
	StatusProbing     Status = "probing"
	StatusTranscoding Status = "transcoding"
	StatusCaptioning  Status = "captioning"
	StatusReady       Status = "ready"
	StatusFailed      Status = "failed"
)

// Person is a user as other users see them.
type Person struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// GroupRef names a group.
type GroupRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Audience is who a clip is shared with; all lists empty means private.
type Audience struct {
	Users  []Person   `json:"users"`
	Groups []GroupRef `json:"groups"`
	// Emails are the addresses the clip was shared with, as the sharer
	// typed them, shown only to those who may edit the clip. Whether an
	// address has an account is never said: the people they name are not
	// in Users, and only addresses that named an account when the audience
	// was saved grant access (emailUsers).
	Emails     []string `json:"emails,omitempty"`
	emailUsers []string
}

// Failure says why a clip could not be processed and what to do.
type Failure struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Clip is a lesson recording and what the pipeline made of it.
type Clip struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Status      Status   `json:"status"`
	Failure     *Failure `json:"failure,omitempty"`
	Progress    float64  `json:"progress"`
	// Notice says what is happening to a clip that is not moving on as it
	// should, e.g. while the worker that processed it stopped and the job
	// is retried; empty when all is well.
	Notice   string `json:"notice,omitempty"`
	Owner    Person `json:"owner"`
	Filename string `json:"filename"`
	// UploadID is the tus upload the clip came from, shown to its owner
	// only, so the web app can match a finished upload to its clip.
	UploadID      string `json:"upload_id,omitempty"`
	SizeBytes     int64  `json:"size_bytes"`
	SHA256        string `json:"sha256,omitempty"`
	DurationMS    int64  `json:"duration_ms"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
	HasVideo      bool   `json:"has_video"`
	HasAudio      bool   `json:"has_audio"`
	CaptionStatus string `json:"caption_status"`
	// CaptionProgress is 0–100 while the automatic captions job runs.
	CaptionProgress float64 `json:"caption_progress"`
	RubricID        string  `json:"rubric_id,omitempty"`
	ReflectFirst    bool    `json:"reflect_first"`
	// FeedbackAfterReflection is true when the clip or one of its groups
	// asks the owner to reflect before seeing others' feedback.
	FeedbackAfterReflection bool            `json:"feedback_after_reflection"`
	GroupID                 string          `json:"group_id,omitempty"`
	Audience                Audience        `json:"audience"`
	Media                   json.RawMessage `json:"media"`
	// Ladder says that the clip plays from one quick rendition while its
	// full set of qualities is made; absent once that is done.
	Ladder *Ladder `json:"ladder,omitempty"`
	// MyAccess lists what the requesting user may do (view, annotate, host,
	// edit, delete), so the web app shows only the controls that work.
	MyAccess []accounts.Action `json:"my_access"`
	// Privacy is the clip's consent, download and sharing state, and
	// Retention when the retention policy deletes it (consent.go).
	Privacy   ClipPrivacy `json:"privacy"`
	Retention *Retention  `json:"retention,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	dates     policy.ClipDates
}

// Access returns the facts the policy decides on.
func (c Clip) Access() accounts.ClipAccess {
	a := accounts.ClipAccess{OwnerID: c.Owner.ID}
	for _, u := range c.Audience.Users {
		a.UserIDs = append(a.UserIDs, u.ID)
	}
	a.UserIDs = append(a.UserIDs, c.Audience.emailUsers...)
	if c.Privacy.SharingPaused {
		// Only the owner and the coaches of its groups (see can).
		a.UserIDs = nil
	}
	for _, g := range c.Audience.Groups {
		a.GroupIDs = append(a.GroupIDs, g.ID)
	}
	return a
}

// Clips is the clip store and its rules.
type Clips struct {
	db  *sqldb.DB
	acc *accounts.Service
	log *slog.Logger
	now func() time.Time
	// OnDelete removes everything stored for a clip outside the database
	// (objects, uploads); a clip row is removed only after it succeeds, so a
	// failed delete can be retried and leaves no orphans.
	OnDelete func(ctx context.Context, clipID string) error
	// ForgetUpload removes the tus upload a clip came from (bytes and
	// state), with its objects; nil when this node takes no uploads.
	ForgetUpload func(ctx context.Context, uploadID string) error
	// Forget run in the transaction that deletes the clip's row, for rows
	// that name the clip without a foreign key to it (River's jobs); see
	// forget.go.
	Forget []func(ctx context.Context, q sqldb.Q, clipID string) error
	// Audit records views, downloads, shares and deletions (audit.Nop
	// until the server wires the privacy log).
	Audit audit.Recorder
	// Policy is the site's privacy policy (nil: policy.Default()).
	Policy PolicySource
}

// NewClips returns the clip service.
func NewClips(db *sqldb.DB, acc *accounts.Service, log *slog.Logger, now func() time.Time) *Clips {
	if now == nil {
		now = time.Now
	}
	return &Clips{db: db, acc: acc, log: log, now: now, Audit: audit.Nop{}}
}

const clipCols = `c.id, c.title, c.description, c.status, c.failure_code, c.failure_reason, c.progress, c.owner_id, u.name,
	c.filename, c.size_bytes, c.sha256, c.duration_ms, c.width, c.height, c.has_video, c.has_audio, c.caption_status,
	c.caption_progress, COALESCE(c.rubric_id, ''), c.reflect_first, COALESCE(c.group_id, ''), c.media_json, c.created_at, c.updated_at,
	COALESCE(c.upload_id, ''), c.notice, c.lease_owner, c.lease_until, c.start_path, c.ladder_state, c.ladder_progress, ` + privacyCols

const clipFrom = ` FROM clips c JOIN users u ON u.id = c.owner_id`

func (s *Clips) scanClip(row interface{ Scan(...any) error }) (Clip, error) {
	var c Clip
	var code, reason, media, leaseOwner, startPath, ladderState string
	var created, updated, leaseUntil, consentAt, keepUntil, deleteOn int64
	var ladderProgress float64
	err := row.Scan(&c.ID, &c.Title, &c.Description, &c.Status, &code, &reason, &c.Progress, &c.Owner.ID, &c.Owner.Name,
		&c.Filename, &c.SizeBytes, &c.SHA256, &c.DurationMS, &c.Width, &c.Height, &c.HasVideo, &c.HasAudio, &c.CaptionStatus,
		&c.CaptionProgress, &c.RubricID, &c.ReflectFirst, &c.GroupID, &media, &created, &updated, &c.UploadID,
		&c.Notice, &leaseOwner, &leaseUntil, &startPath, &ladderState, &ladderProgress, &c.Privacy.StudentsVisible, &c.Privacy.ConsentOnFile, &c.Privacy.ConsentNote,
		&consentAt, &c.Privacy.DownloadsAllowed, &keepUntil, &deleteOn)
	if err != nil {
		return c, err
	}
	if ladderState != "" {
		c.Ladder = &Ladder{State: ladderState, Progress: ladderProgress, Start: startPath}
	}
	if leaseOwner != "" && leaseOwner != leaseHandoff && leaseUntil < sqldb.Millis(s.now()) {
		// The worker stopped renewing its lease and no sweeper has taken
		// the job over yet: say so rather than show a frozen percentage.
		c.Notice = NoticeWorkerSilent
	}
	if code != "" {
		c.Failure = &Failure{Code: code, Reason: reason}
	}
	c.Media = json.RawMessage(media)
	c.CreatedAt, c.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	c.scanPrivacy(consentAt, keepUntil, deleteOn)
	c.Audience = Audience{Users: []Person{}, Groups: []GroupRef{}}
	c.FeedbackAfterReflection = c.ReflectFirst
	return c, nil
}

// get loads a clip with its audience, without authorization.
func (s *Clips) get(ctx context.Context, clipID string) (Clip, error) {
	c, err := s.scanClip(s.db.Reader().QueryRow(ctx, `SELECT `+clipCols+clipFrom+` WHERE c.id = ?`, clipID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.NotFound("clip")
	}
	if err != nil {
		return c, fmt.Errorf("read clip %s: %w", clipID, err)
	}
	if err := s.loadAudience(ctx, []*Clip{&c}); err != nil {
		return c, err
	}
	return c, s.applyPolicy(ctx, &c)
}

// Scope selects a clip list.
type Scope string

// Clip list scopes.
const (
	ScopeMine   Scope = "mine"
	ScopeShared Scope = "shared"
	ScopeAll    Scope = "all"
	ScopeGroup  Scope = "group"
)

// List returns the clips the actor may view in a scope, newest first.
func (s *Clips) List(ctx context.Context, a accounts.Actor, scope Scope, groupID string) ([]Clip, error) {
	var where string
	var args []any
	shared := `(EXISTS (SELECT 1 FROM clip_audience_users au WHERE au.clip_id = c.id AND au.user_id = ?)
		OR EXISTS (SELECT 1 FROM clip_audience_emails ae WHERE ae.clip_id = c.id AND ae.user_id = ?)
		OR EXISTS (SELECT 1 FROM clip_audience_groups ag JOIN group_members m ON m.group_id = ag.group_id
		JOIN groups g ON g.id = ag.group_id WHERE ag.clip_id = c.id AND m.user_id = ? AND g.archived_at IS NULL))`
	switch scope {
	case ScopeMine, "":
		where, args = `c.owner_id = ?`, []any{a.UserID}
	case ScopeShared:
		where, args = `c.owner_id <> ? AND `+shared, []any{a.UserID, a.UserID, a.UserID, a.UserID}
	case ScopeAll:
		where, args = `(c.owner_id = ? OR `+shared+`)`, []any{a.UserID, a.UserID, a.UserID, a.UserID}
	case ScopeGroup:
		m, err := s.acc.Memberships(ctx, a.UserID)
		if err != nil {
			return nil, err
		}
		if _, ok := m[groupID]; !ok {
			return nil, apperr.NotFound("group")
		}
		where, args = `EXISTS (SELECT 1 FROM clip_audience_groups ag WHERE ag.clip_id = c.id AND ag.group_id = ?)`, []any{groupID}
	default:
		return nil, apperr.Invalid("scope", "choose mine, shared, all or group")
	}
	rows, err := s.db.Reader().Query(ctx, `SELECT `+clipCols+clipFrom+` WHERE `+where+` ORDER BY c.created_at DESC, c.id DESC LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("list clips: %w", err)
	}
	defer rows.Close()
	out := []Clip{}
	for rows.Next() {
		c, err := s.scanClip(rows)
		if err != nil {
			return nil, fmt.Errorf("list clips: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*Clip, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	if err := s.loadAudience(ctx, ptrs); err != nil {
		return nil, err
	}
	if err := s.applyPolicy(ctx, ptrs...); err != nil {
		return nil, err
	}
	m, err := s.acc.Memberships(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	// The query matched the audience; the policy may still hold a clip
	// back from it (consent.go).
	visible := out[:0]
	for i := range out {
		if out[i].can(a, m, accounts.ClipView) {
			out[i].forViewer(a, m)
			visible = append(visible, out[i])
		}
	}
	return visible, nil
}

// VisibleOwnedBy lists the playable clips of one owner that the actor may
// view, oldest first (a teacher's growth over time: a clip that failed or
// is still being prepared holds no lesson to count).
func (s *Clips) VisibleOwnedBy(ctx context.Context, a accounts.Actor, ownerID string) ([]Clip, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT `+clipCols+clipFrom+` WHERE c.owner_id = ? AND c.status IN (?, ?)
		ORDER BY c.created_at, c.id`, ownerID, StatusReady, StatusCaptioning)
	if err != nil {
		return nil, fmt.Errorf("list clips of %s: %w", ownerID, err)
	}
	var all []Clip
	for rows.Next() {
		c, err := s.scanClip(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list clips of %s: %w", ownerID, err)
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ptrs := make([]*Clip, len(all))
	for i := range all {
		ptrs[i] = &all[i]
	}
	if err := s.loadAudience(ctx, ptrs); err != nil {
		return nil, err
	}
	if err := s.applyPolicy(ctx, ptrs...); err != nil {
		return nil, err
	}
	m, err := s.acc.Memberships(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	out := []Clip{}
	for _, c := range all {
		if c.can(a, m, accounts.ClipView) {
			out = append(out, c)
		}
	}
	return out, nil
}

// NewClip starts a clip, usually when an upload begins.
type NewClip struct {
	Title       string
	Description string
	Filename    string
	ContentType string
	SizeBytes   int64
	UploadID    string
	GroupID     string
	// Consent is what the owner said at upload (zero: students visible
	// unknown, no consent on file).
	Consent ConsentInput
}

// cleanTitle trims a title and, for titles made from file names (which a
// person did not type as a title), drops what could not be shown.
func cleanTitle(t string) string {
	t = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, strings.ToValidUTF8(t, ""))
	t = strings.TrimSpace(t)
	if utf8.RuneCountInString(t) > 200 {
		t = string([]rune(t)[:200])
	}
	return t
}

// Create stores a new clip owned by ownerID, private until shared. When a
// group is named (and the owner is in it) the clip is shared with it.
func (s *Clips) Create(ctx context.Context, a accounts.Actor, n NewClip) (Clip, error) {
	n.Title = cleanTitle(n.Title)
	if n.Title == "" {
		n.Title = strings.TrimSuffix(cleanTitle(n.Filename), "."+lastExt(n.Filename))
	}
	if n.Title == "" {
		n.Title = "Untitled lesson"
	}
	if n.GroupID != "" {
		m, err := s.acc.Memberships(ctx, a.UserID)
		if err != nil {
			return Clip{}, err
		}
		if _, ok := m[n.GroupID]; !ok {
			return Clip{}, apperr.Invalid("group_id", "you can only share with groups you belong to")
		}
	}
	now := sqldb.Millis(s.now())
	clipID := id.New()
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		var upload, group any
		if n.UploadID != "" {
			upload = n.UploadID
		}
		if n.GroupID != "" {
			group = n.GroupID
		}
		if _, err := q.Exec(ctx, `INSERT INTO clips (id, owner_id, title, description, status, upload_id, filename, content_type, size_bytes, group_id, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, clipID, a.UserID, n.Title, n.Description, StatusUploading, upload,
			cleanTitle(n.Filename), n.ContentType, n.SizeBytes, group, now, now); err != nil {
			return fmt.Errorf("create clip: %w", err)
		}
		if err := storeConsent(ctx, q, clipID, n.Consent, now); err != nil {
			return err
		}
		if n.GroupID != "" {
			if _, err := q.Exec(ctx, `INSERT INTO clip_audience_groups (clip_id, group_id) VALUES (?, ?)`, clipID, n.GroupID); err != nil {
				return fmt.Errorf("share clip: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Clip{}, err
	}
	return s.get(ctx, clipID)
}

func lastExt(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// ClipPatch changes a clip's editable fields; nil fields stay.
type ClipPatch struct {
	Title        *string `json:"title"`
	Description  *string `json:"description"`
	RubricID     *string `json:"rubric_id"`
	ReflectFirst *bool   `json:"reflect_first"`
}

// Update applies a patch.
func (s *Clips) Update(ctx context.Context, a accounts.Actor, clipID string, p ClipPatch) (Clip, error) {
	c, err := s.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return c, err
	}
	v := &apperr.Validation{}
	if p.Title != nil {
		if prob := textcheck.Line(*p.Title); prob != "" {
			v.Add("title", "%s", prob)
		} else if c.Title = cleanTitle(*p.Title); c.Title == "" {
			v.Add("title", "give the clip a title")
		}
	}
	if p.Description != nil {
		c.Description = strings.TrimSpace(*p.Description)
		if prob := textcheck.Block(c.Description); prob != "" {
			v.Add("description", "%s", prob)
		} else if utf8.RuneCountInString(c.Description) > 5000 {
			v.Add("description", "use at most 5000 characters")
		}
	}
	if p.RubricID != nil {
		c.RubricID = *p.RubricID
	}
	if p.ReflectFirst != nil {
		c.ReflectFirst = *p.ReflectFirst
	}
	if err := v.Err(); err != nil {
		return c, err
	}
	var rubric any
	if c.RubricID != "" {
		rubric = c.RubricID
	}
	if _, err := s.db.Writer().Exec(ctx, `UPDATE clips SET title = ?, description = ?, rubric_id = ?, reflect_first = ?, updated_at = ? WHERE id = ?`,
		c.Title, c.Description, rubric, c.ReflectFirst, sqldb.Millis(s.now()), clipID); err != nil {
		return c, fmt.Errorf("update clip %s: %w", clipID, err)
	}
	return s.Authorize(ctx, a, accounts.ClipView, clipID)
}

// Delete removes the clip, its stored objects and every row that hangs off
// it (the schema cascades).
func (s *Clips) Delete(ctx context.Context, a accounts.Actor, clipID string) error {
	c, err := s.Authorize(ctx, a, accounts.ClipDelete, clipID)
	if err != nil {
		return err
	}
	if err := s.Purge(ctx, clipID); err != nil {
		return err
	}
	s.record(ctx, a, audit.ClipDelete, c, "", "")
	return nil
}

// Purge deletes a clip without authorization (the pipeline uses it for
// abandoned uploads): its objects and upload, then every row that names it
// in one transaction, then its objects again (see forget.go).
func (s *Clips) Purge(ctx context.Context, clipID string) error {
	return s.purge(ctx, clipID, false)
}
