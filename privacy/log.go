package privacy

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// DefaultRetention is how long entries are kept unless configured: a
// school year and a term, so last year's questions can still be answered.
const DefaultRetention = 400 * 24 * time.Hour

// DefaultViewWindow is how long a view of a clip by one person counts as
// the same view: a page reload, a second tab or the player's segment
// fetches are not new views.
const DefaultViewWindow = 30 * time.Minute

// Log is the audit log in the database. It implements audit.Recorder.
type Log struct {
	db  *sqldb.DB
	now func() time.Time
	// Retention is how long PurgeExpired keeps entries (0: forever).
	Retention time.Duration
	// ViewWindow: a view by the same person of the same clip within this
	// time of the last one recorded is not recorded again (0: every view).
	ViewWindow time.Duration
}

var _ audit.Recorder = (*Log)(nil)

// NewLog returns the log over db; now may be nil (time.Now).
func NewLog(db *sqldb.DB, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: db, now: now, Retention: DefaultRetention, ViewWindow: DefaultViewWindow}
}

// Entry is one stored audit event as the API and the CSV show it.
type Entry struct {
	ID          string       `json:"id"`
	At          time.Time    `json:"at"`
	ActorID     string       `json:"actor_id"`
	ActorName   string       `json:"actor_name"`
	Action      audit.Action `json:"action"`
	ClipID      string       `json:"clip_id,omitempty"`
	ClipOwnerID string       `json:"clip_owner_id,omitempty"`
	ClipTitle   string       `json:"clip_title,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	Detail      string       `json:"detail,omitempty"`
	// Address is the client address; only admins see it (an owner learns
	// who watched their clip, not from where).
	Address string `json:"address,omitempty"`
}

// clip returns s cut to n runes: a stored field never grows without bound,
// whatever a caller passes.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

var actionPattern = regexp.MustCompile(`^[a-z_]+(\.[a-z_]+)?$`)

// Record stores e. Missing At is now; a missing actor name, clip owner or
// clip title is read from the users and clips tables, so the entry keeps
// them as they are now even after a rename or a deletion. Any action is
// accepted (every audit.Action constant, and those added later).
func (l *Log) Record(ctx context.Context, e audit.Event) error {
	if !actionPattern.MatchString(string(e.Action)) {
		return fmt.Errorf("record audit event: action %q is not an audit action", e.Action)
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	if e.Address == "" {
		e.Address = audit.AddressFrom(ctx)
	}
	at := sqldb.Millis(e.At)
	if e.Action == audit.ClipView && l.ViewWindow > 0 && e.ClipID != "" {
		var n int
		err := l.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE clip_id = ? AND actor_id = ? AND action = ? AND at > ?`,
			e.ClipID, e.ActorID, e.Action, at-l.ViewWindow.Milliseconds()).Scan(&n)
		if err != nil {
			return fmt.Errorf("record audit event %s: %w", e.Action, err)
		}
		if n > 0 {
			return nil
		}
	}
	_, err := l.db.Writer().Exec(ctx, `INSERT INTO audit_events (at, actor_id, actor_name, action, clip_id, clip_owner_id, clip_title, subject, detail, address)
		VALUES (?, ?, COALESCE((SELECT name FROM users WHERE id = ?), ''), ?, ?,
			COALESCE(NULLIF(?, ''), (SELECT owner_id FROM clips WHERE id = ?), ''),
			COALESCE(NULLIF(?, ''), (SELECT title FROM clips WHERE id = ?), ''), ?, ?, ?)`,
		at, e.ActorID, e.ActorID, string(e.Action), e.ClipID,
		e.ClipOwnerID, e.ClipID, clip(e.ClipTitle, 200), e.ClipID,
		clip(e.Subject, 300), clip(e.Detail, 500), clip(e.Address, 100))
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", e.Action, err)
	}
	return nil
}

// Filter selects entries. Empty fields select everything.
type Filter struct {
	ClipID  string
	OwnerID string
	ActorID string
	Action  audit.Action
	// Since and Until bound the time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// After is the cursor of the previous page (Page.Next).
	After string
	// Limit is the page size, 1 to MaxPage (0: DefaultPage).
	Limit int
}

// Page sizes of List.
const (
	DefaultPage = 100
	MaxPage     = 1000
)

// Page is one page of entries, newest first; Next, when not empty, is the
// cursor of the following (older) page.
type Page struct {
	Entries []Entry `json:"entries"`
	Next    string  `json:"next,omitempty"`
}

// cursor is the position (at, id) of the last entry of a page.
func cursor(e Entry) string { return strconv.FormatInt(sqldb.Millis(e.At), 10) + "." + e.ID }

func parseCursor(s string) (at, id int64, err error) {
	a, b, ok := strings.Cut(s, ".")
	if ok {
		if at, err = strconv.ParseInt(a, 10, 64); err == nil {
			id, err = strconv.ParseInt(b, 10, 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, apperr.Invalid("after", "is not a cursor from a previous page's next")
	}
	return at, id, nil
}

// List returns one page of the entries f selects, newest first (keyset
// pagination: a page does not shift when entries are added meanwhile).
func (l *Log) List(ctx context.Context, f Filter) (Page, error) {
	if f.Limit == 0 {
		f.Limit = DefaultPage
	}
	if f.Limit < 1 || f.Limit > MaxPage {
		return Page{}, apperr.Invalid("limit", "must be a number from 1 to %d", MaxPage)
	}
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
	if f.ClipID != "" {
		add(`clip_id = ?`, f.ClipID)
	}
	if f.OwnerID != "" {
		add(`clip_owner_id = ?`, f.OwnerID)
	}
	if f.ActorID != "" {
		add(`actor_id = ?`, f.ActorID)
	}
	if f.Action != "" {
		add(`action = ?`, string(f.Action))
	}
	if !f.Since.IsZero() {
		add(`at >= ?`, sqldb.Millis(f.Since))
	}
	if !f.Until.IsZero() {
		add(`at < ?`, sqldb.Millis(f.Until))
	}
	if f.After != "" {
		at, id, err := parseCursor(f.After)
		if err != nil {
			return Page{}, err
		}
		add(`(at < ? OR (at = ? AND id < ?))`, at, at, id)
	}
	q := `SELECT id, at, actor_id, actor_name, action, clip_id, clip_owner_id, clip_title, subject, detail, address FROM audit_events`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, f.Limit+1)
	rows, err := l.db.Reader().Query(ctx, q, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	p := Page{Entries: []Entry{}}
	for rows.Next() {
		var e Entry
		var id, at int64
		if err := rows.Scan(&id, &at, &e.ActorID, &e.ActorName, &e.Action, &e.ClipID, &e.ClipOwnerID, &e.ClipTitle,
			&e.Subject, &e.Detail, &e.Address); err != nil {
			return Page{}, fmt.Errorf("list audit events: %w", err)
		}
		e.ID, e.At = strconv.FormatInt(id, 10), sqldb.Time(at)
		p.Entries = append(p.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list audit events: %w", err)
	}
	if len(p.Entries) > f.Limit {
		p.Entries = p.Entries[:f.Limit]
		p.Next = cursor(p.Entries[f.Limit-1])
	}
	return p, nil
}

// csvHeader names the CSV columns; address is left out of owners' copies.
var csvHeader = []string{"id", "at", "actor_id", "actor_name", "action", "clip_id", "clip_owner_id", "clip_title", "subject", "detail", "address"}

// MaxCSVRows bounds one CSV export; narrow the filter (e.g. by time) for
// more.
const MaxCSVRows = 100_000

// WriteCSV writes every entry f selects (f.Limit is ignored), newest
// first, as RFC 4180 CSV with a header row, at most MaxCSVRows rows. Cells
// a spreadsheet would run as a formula are prefixed with ' (see safeCell).
// withAddress adds the client address column.
func (l *Log) WriteCSV(ctx context.Context, w io.Writer, f Filter, withAddress bool) error {
	cw := csv.NewWriter(w)
	header := csvHeader
	if !withAddress {
		header = header[:len(header)-1]
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write audit CSV: %w", err)
	}
	f.Limit = MaxPage
	for n := 0; n < MaxCSVRows; {
		p, err := l.List(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range p.Entries {
			row := []string{e.ID, e.At.Format("2006-01-02T15:04:05.000Z07:00"), e.ActorID, e.ActorName, string(e.Action), e.ClipID,
				e.ClipOwnerID, e.ClipTitle, e.Subject, e.Detail}
			if withAddress {
				row = append(row, e.Address)
			}
			for i := range row {
				row[i] = safeCell(row[i])
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("write audit CSV: %w", err)
			}
			if n++; n >= MaxCSVRows {
				break
			}
		}
		if p.Next == "" {
			break
		}
		f.After = p.Next
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write audit CSV: %w", err)
	}
	return nil
}

// safeCell defuses CSV injection: a cell that starts with = + - @, a tab
// or a carriage return is run as a formula by spreadsheets, so it gets a
// leading ' (shown as text, and visible, so nothing is hidden).
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// purgeBatch bounds one DELETE, so a first purge of years of entries does
// not hold SQLite's one writer for long.
const purgeBatch = 5000

// Purge deletes the entries older than before and returns how many.
func (l *Log) Purge(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := l.db.Writer().Exec(ctx, `DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < ? ORDER BY at, id LIMIT ?)`,
			sqldb.Millis(before), purgeBatch)
		if err != nil {
			return total, fmt.Errorf("purge audit events before %s: %w", before.Format(time.RFC3339), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("purge audit events: %w", err)
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// PurgeExpired deletes the entries older than Retention (nothing when
// Retention is 0).
func (l *Log) PurgeExpired(ctx context.Context) (int64, error) {
	if l.Retention <= 0 {
		return 0, nil
	}
	return l.Purge(ctx, l.now().Add(-l.Retention))
}
