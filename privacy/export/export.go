// Package export owns a person's control over their own data: the data
// export (GET /me/export, one ZIP of everything they own or wrote) and the
// deletion of their account (DELETE /me), which deletes every clip they own
// through the media hard delete.
//
// The ZIP is built while it is sent: entries are copied from the database
// and the media store straight into a zip.Writer on the response, so memory
// stays bounded whatever the size of the videos, and no export object is
// ever stored (there is nothing to expire or forget). A failure half-way
// cannot change the status any more; the archive then ends with
// export-error.txt saying what is missing, and the failure is logged.
//
// Limits: at most 1000 clips (the clip list's bound) and 100,000 annotations
// per clip (the annotation export's) are exported; beyond that the README
// says the export is partial.
package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/storage"
)

// AuditSource lists the audit entries about a user's clips or by the user;
// the privacy audit log satisfies it. Nil means the audit log is not
// enabled, which audit.json then says.
type AuditSource interface {
	ListForUser(ctx context.Context, userID string) ([]audit.Event, error)
}

// Deps are the services an Exporter reads and changes.
type Deps struct {
	DB          *sqldb.DB
	Accounts    *accounts.Service
	Clips       *media.Clips
	Store       storage.Store
	Annotations *annotations.Service
	// Audit records exports and account deletions; nil means the
	// recorder the clips record into (Clips.Audit), read at each use so
	// that it may be wired after New.
	Audit audit.Recorder
	// AuditLog, when set, fills audit.json.
	AuditLog AuditSource
	Log      *slog.Logger
	Now      func() time.Time
	// SecureCookies marks the cookies cleared on account deletion Secure
	// (the site is served over https).
	SecureCookies bool
}

// Exporter builds data exports and deletes accounts.
type Exporter struct {
	d Deps
}

// New returns an Exporter over d.
func New(d Deps) *Exporter {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Exporter{d: d}
}

// recorder is where audit events go.
func (x *Exporter) recorder() audit.Recorder {
	switch {
	case x.d.Audit != nil:
		return x.d.Audit
	case x.d.Clips != nil && x.d.Clips.Audit != nil:
		return x.d.Clips.Audit
	}
	return audit.Nop{}
}

// SetAuditLog makes audit.json list the entries of src (nil: not enabled).
func (x *Exporter) SetAuditLog(src AuditSource) { x.d.AuditLog = src }

// readme explains the archive to the person who downloads it (or to a
// parent or school officer they hand it to).
const readme = `filmroom data export
====================

This archive holds everything filmroom stores about you, as of %s:

account.json               your profile, your groups and your role in each
clips/<id>-<title>/        one folder per clip you own:
  clip.json                title, description, status, audience (who it is
                           shared with), consent (whether students are
                           visible, whether consent is on file, your note),
                           retention dates, sizes and dates
  original.<ext>           the file you uploaded; best-rendition.mp4 when the
                           original is no longer stored
  captions/<lang>.vtt      the captions, as WebVTT
  annotations.json         the feedback on the clip (yours and other people's,
                           with replies), as filmroom's JSON
  annotations.jsonld       the same as W3C Web Annotations, which other
                           annotation tools can import
annotations-authored.json  feedback and replies you wrote on other people's clips
reflections.json           your reflections on your clips
goals.json                 your goals, with the clips and feedback you chose
                           as evidence
audit.json                 the audit log entries about your clips or by you

Other people's private notes on your clips are theirs and not included.
Times are UTC (RFC 3339); durations and positions are milliseconds.
`

// Write streams the user's export as a ZIP to w. The caller has checked
// who is asking; a is the user whose data is exported.
func (x *Exporter) Write(ctx context.Context, a accounts.Actor, w io.Writer) error {
	z := zip.NewWriter(w)
	err := x.write(ctx, a, z)
	if err != nil {
		x.d.Log.Error("A data export failed part-way; the archive says so.", "user_id", a.UserID, "error", err)
		if f, ferr := z.Create("export-error.txt"); ferr == nil {
			fmt.Fprintf(f, "This export is incomplete: filmroom could not read everything (%s).\nDownload it again; if it fails again, ask your filmroom administrator.\n",
				strings.ReplaceAll(err.Error(), a.UserID, "you"))
		}
	}
	if cerr := z.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("finish export archive: %w", cerr)
	}
	return err
}

func (x *Exporter) write(ctx context.Context, a accounts.Actor, z *zip.Writer) error {
	now := x.d.Now().UTC()
	if err := writeText(z, "README.txt", fmt.Sprintf(readme, now.Format(time.RFC3339)), now); err != nil {
		return err
	}
	if err := x.writeAccount(ctx, a, z, now); err != nil {
		return err
	}
	clips, err := x.d.Clips.List(ctx, a, media.ScopeMine, "")
	if err != nil {
		return fmt.Errorf("list clips: %w", err)
	}
	for _, c := range clips {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.writeClip(ctx, a, z, c, now); err != nil {
			return err
		}
	}
	if err := x.writeAuthored(ctx, a, z, now); err != nil {
		return err
	}
	if err := x.writeReflections(ctx, a, z, now); err != nil {
		return err
	}
	goals, err := x.d.Annotations.ListGoals(ctx, a, a.UserID)
	if err != nil {
		return fmt.Errorf("list goals: %w", err)
	}
	if err := writeJSON(z, "goals.json", map[string]any{"goals": goals}, now); err != nil {
		return err
	}
	return x.writeAudit(ctx, a, z, now)
}

func (x *Exporter) writeAccount(ctx context.Context, a accounts.Actor, z *zip.Writer, now time.Time) error {
	u, err := x.d.Accounts.User(ctx, a.UserID)
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	groups, err := x.d.Accounts.Groups(ctx, a)
	if err != nil {
		return fmt.Errorf("list groups: %w", err)
	}
	type membership struct {
		GroupID   string        `json:"group_id"`
		GroupName string        `json:"group_name"`
		Role      accounts.Role `json:"role"`
	}
	ms, mine := []membership{}, []accounts.Group{}
	for _, g := range groups {
		// An admin is listed every group; only memberships are their data.
		if g.MyRole != "" {
			mine = append(mine, g)
			ms = append(ms, membership{GroupID: g.ID, GroupName: g.Name, Role: g.MyRole})
		}
	}
	return writeJSON(z, "account.json", map[string]any{"profile": u, "groups": mine, "memberships": ms, "exported_at": now}, now)
}

// clipFolder names a clip's folder: its ID (unique) and a readable slug.
func clipFolder(c media.Clip) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(c.Title) {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	slug := strings.Trim(b.String(), "-")
	if slug == "" {
		slug = "clip"
	}
	return "clips/" + c.ID + "-" + slug + "/"
}

func (x *Exporter) writeClip(ctx context.Context, a accounts.Actor, z *zip.Writer, c media.Clip, now time.Time) error {
	dir := clipFolder(c)
	// The clip as its owner sees it holds its consent record (privacy:
	// students visible, consent on file, the note) and retention dates;
	// "consent" repeats the record on its own for a reader of the archive.
	consent := map[string]any{"students_visible": c.Privacy.StudentsVisible, "consent_on_file": c.Privacy.ConsentOnFile,
		"consent_note": c.Privacy.ConsentNote, "updated_at": c.Privacy.ConsentUpdatedAt}
	if err := writeJSON(z, dir+"clip.json", map[string]any{"clip": c, "consent": consent}, c.UpdatedAt); err != nil {
		return err
	}
	var info media.MediaInfo
	_ = json.Unmarshal(c.Media, &info) // a clip not processed yet has no media
	ext := strings.ToLower(path.Ext(c.Filename))
	if ext == "" || len(ext) > 6 || strings.ContainsFunc(ext[1:], func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		ext = ".bin"
	}
	copied, err := x.copyObject(ctx, z, media.SourceObjectKey(c.ID), dir+"original"+ext, c.CreatedAt)
	if err != nil {
		return err
	}
	if !copied && info.MP4 != "" {
		if _, err := x.copyObject(ctx, z, media.MediaObjectKey(c.ID, info.MP4), dir+"best-rendition.mp4", c.UpdatedAt); err != nil {
			return err
		}
	}
	for _, tr := range info.Captions {
		if _, err := x.copyObject(ctx, z, media.MediaObjectKey(c.ID, tr.Path), dir+"captions/"+tr.Lang+".vtt", c.UpdatedAt); err != nil {
			return err
		}
	}
	if err := x.writeClipAnnotations(ctx, a, z, c, dir, now); err != nil {
		return err
	}
	f, err := create(z, dir+"annotations.jsonld", now)
	if err != nil {
		return err
	}
	if err := x.d.Annotations.ExportWebAnnotations(ctx, a, c.ID, annotations.ExportQuery{}, f); err != nil {
		return fmt.Errorf("export web annotations of clip %s: %w", c.ID, err)
	}
	return nil
}

// writeClipAnnotations streams every annotation the owner can see on the
// clip, page by page, as one JSON document with their replies.
func (x *Exporter) writeClipAnnotations(ctx context.Context, a accounts.Actor, z *zip.Writer, c media.Clip, dir string, now time.Time) error {
	f, err := create(z, dir+"annotations.json", now)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, `{"clip_id":`+quote(c.ID)+`,"annotations":[`); err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	first, cursor := true, ""
	for {
		page, err := x.d.Annotations.List(ctx, a, c.ID, annotations.ListQuery{Cursor: cursor, Limit: 200})
		if err != nil {
			return fmt.Errorf("list annotations of clip %s: %w", c.ID, err)
		}
		for _, ann := range page.Items {
			if !first {
				if _, err := io.WriteString(f, ","); err != nil {
					return err
				}
			}
			first = false
			if err := enc.Encode(ann); err != nil {
				return err
			}
		}
		if page.NextCursor == "" || len(page.Items) == 0 {
			break
		}
		cursor = page.NextCursor
	}
	if _, err := io.WriteString(f, `],"replies":`); err != nil {
		return err
	}
	if err := x.writeRows(ctx, f, `SELECT r.id, r.annotation_id, COALESCE(r.in_reply_to, ''), r.author_id, COALESCE(u.name, ''), r.body, r.created_at, r.updated_at
		FROM annotation_replies r JOIN annotations a ON a.id = r.annotation_id LEFT JOIN users u ON u.id = r.author_id
		WHERE r.clip_id = ? AND r.deleted_at IS NULL AND a.deleted_at IS NULL AND (a.visibility = 'audience' OR a.author_id = ?)
		ORDER BY r.created_at, r.id`, []any{c.ID, a.UserID}, replyRow); err != nil {
		return fmt.Errorf("export replies of clip %s: %w", c.ID, err)
	}
	_, err = io.WriteString(f, "}\n")
	return err
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// copyObject streams a stored object into the archive; false when there is
// no such object.
func (x *Exporter) copyObject(ctx context.Context, z *zip.Writer, key, name string, mod time.Time) (bool, error) {
	obj, err := x.d.Store.Open(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s: %w", key, err)
	}
	defer obj.Close()
	// Video is compressed already: store it, which also keeps the CPU free.
	method := zip.Deflate
	if !strings.HasSuffix(name, ".vtt") {
		method = zip.Store
	}
	f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: mod})
	if err != nil {
		return false, fmt.Errorf("add %s: %w", name, err)
	}
	if _, err := io.CopyBuffer(f, obj, make([]byte, 256<<10)); err != nil {
		return false, fmt.Errorf("copy %s: %w", key, err)
	}
	return true, nil
}

func create(z *zip.Writer, name string, mod time.Time) (io.Writer, error) {
	f, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: mod})
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", name, err)
	}
	return f, nil
}

func writeText(z *zip.Writer, name, text string, mod time.Time) error {
	f, err := create(z, name, mod)
	if err != nil {
		return err
	}
	_, err = io.WriteString(f, text)
	return err
}

func writeJSON(z *zip.Writer, name string, v any, mod time.Time) error {
	f, err := create(z, name, mod)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}
