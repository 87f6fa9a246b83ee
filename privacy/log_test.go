package privacy_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
)

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// clock is a settable clock for the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	db    *sqldb.DB
	log   *privacy.Log
	clk   *clock
	owner accounts.User
	peer  accounts.User
	clip  media.Clip
}

func databases() []testsvc.Database {
	return testsvc.Databases(accounts.Migrations(), media.Migrations(), privacy.Migrations())
}

func setup(t *testing.T, db *sqldb.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
	acc := accounts.New(db, slogDiscard(), clk.now)
	owner, err := acc.CreateUser(ctx, accounts.NewUser{Email: "owner@example.org", Name: "Olive Owner", Password: "a long enough password"}, false)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := acc.CreateUser(ctx, accounts.NewUser{Email: "peer@example.org", Name: "Pat Peer", Password: "a long enough password"}, false)
	if err != nil {
		t.Fatal(err)
	}
	clips := media.NewClips(db, acc, slogDiscard(), clk.now)
	c, err := clips.Create(ctx, owner.Actor("session"), media.NewClip{Title: "Fractions lesson"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, log: privacy.NewLog(db, clk.now), clk: clk, owner: owner, peer: peer, clip: c}
}

func (f *fixture) record(t *testing.T, e audit.Event) {
	t.Helper()
	if err := f.log.Record(context.Background(), e); err != nil {
		t.Fatalf("record %s: %v", e.Action, err)
	}
}

func (f *fixture) list(t *testing.T, flt privacy.Filter) privacy.Page {
	t.Helper()
	p, err := f.log.List(context.Background(), flt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// every audit.Action constant: the log must take each of them, including
// the ones other parts of the privacy work record.
var everyAction = []audit.Action{audit.SignIn, audit.SignInFailed, audit.ClipView, audit.ClipDownload, audit.ClipExport,
	audit.ClipShare, audit.ClipUnshare, audit.ClipRedact, audit.ClipDelete, audit.ClipConsent, audit.ClipRetention,
	audit.AccountExport, audit.AccountDelete, audit.SettingsChanged}

func TestLog(t *testing.T) {
	t.Parallel()
	for _, d := range databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			t.Run("record fills names and keeps them", func(t *testing.T) {
				f := setup(t, d.Open(t))
				db := f.db
				ctx := audit.WithAddress(context.Background(), "203.0.113.7")
				if err := f.log.Record(ctx, audit.Event{ActorID: f.peer.ID, Action: audit.ClipDownload, ClipID: f.clip.ID}); err != nil {
					t.Fatal(err)
				}
				// Renaming the person and the clip later changes nothing recorded.
				if _, err := db.Writer().Exec(context.Background(), `UPDATE users SET name = 'Renamed' WHERE id = ?`, f.peer.ID); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Writer().Exec(context.Background(), `DELETE FROM clips WHERE id = ?`, f.clip.ID); err != nil {
					t.Fatal(err)
				}
				p := f.list(t, privacy.Filter{OwnerID: f.owner.ID})
				if len(p.Entries) != 1 {
					t.Fatalf("entries: %+v", p.Entries)
				}
				e := p.Entries[0]
				want := privacy.Entry{ID: e.ID, At: f.clk.now(), ActorID: f.peer.ID, ActorName: "Pat Peer", Action: audit.ClipDownload,
					ClipID: f.clip.ID, ClipOwnerID: f.owner.ID, ClipTitle: "Fractions lesson", Address: "203.0.113.7"}
				if e != want {
					t.Errorf("entry\n got %+v\nwant %+v", e, want)
				}
			})
			t.Run("every action is accepted", func(t *testing.T) {
				f := setup(t, d.Open(t))
				for _, a := range everyAction {
					f.record(t, audit.Event{ActorID: f.owner.ID, Action: a, ClipID: f.clip.ID, Subject: "s", Detail: "d"})
					if p := f.list(t, privacy.Filter{ClipID: f.clip.ID, Action: a}); len(p.Entries) != 1 || p.Entries[0].Action != a {
						t.Errorf("%s: %+v", a, p.Entries)
					}
				}
				if err := f.log.Record(context.Background(), audit.Event{Action: "DROP TABLE"}); err == nil {
					t.Error("a malformed action was recorded")
				}
			})
			t.Run("failed sign-in of an unknown email", func(t *testing.T) {
				f := setup(t, d.Open(t))
				f.record(t, audit.Event{Action: audit.SignInFailed, Subject: "nobody@example.org", Address: "198.51.100.1"})
				p := f.list(t, privacy.Filter{Action: audit.SignInFailed})
				if len(p.Entries) != 1 || p.Entries[0].ActorID != "" || p.Entries[0].Subject != "nobody@example.org" || p.Entries[0].Address != "198.51.100.1" {
					t.Errorf("%+v", p.Entries)
				}
			})
			t.Run("views are recorded once per window", func(t *testing.T) {
				f := setup(t, d.Open(t))
				view := audit.Event{ActorID: f.peer.ID, Action: audit.ClipView, ClipID: f.clip.ID}
				f.record(t, view)
				f.clk.add(10 * time.Minute)
				f.record(t, view)
				f.record(t, audit.Event{ActorID: f.owner.ID, Action: audit.ClipView, ClipID: f.clip.ID})
				f.clk.add(25 * time.Minute)
				f.record(t, view)
				if n := len(f.list(t, privacy.Filter{ClipID: f.clip.ID, ActorID: f.peer.ID, Action: audit.ClipView}).Entries); n != 2 {
					t.Errorf("peer's views: %d, want 2 (the second was within 30 min of the first)", n)
				}
				if n := len(f.list(t, privacy.Filter{ClipID: f.clip.ID, Action: audit.ClipView}).Entries); n != 3 {
					t.Errorf("all views: %d, want 3", n)
				}
			})
			t.Run("filters and keyset pages, newest first", func(t *testing.T) {
				f := setup(t, d.Open(t))
				start := f.clk.now()
				for i := 0; i < 7; i++ {
					who := f.owner.ID
					if i%2 == 1 {
						who = f.peer.ID
					}
					f.record(t, audit.Event{ActorID: who, Action: audit.ClipDownload, ClipID: f.clip.ID, Detail: string(rune('a' + i))})
					if i != 2 { // two entries share a millisecond: the id breaks the tie
						f.clk.add(time.Minute)
					}
				}
				var got []string
				flt := privacy.Filter{ClipID: f.clip.ID, Limit: 3}
				for pages := 0; ; pages++ {
					p := f.list(t, flt)
					for _, e := range p.Entries {
						got = append(got, e.Detail)
					}
					if p.Next == "" {
						if pages != 2 {
							t.Errorf("pages: %d, want 3", pages+1)
						}
						break
					}
					flt.After = p.Next
				}
				if s := strings.Join(got, ""); s != "gfedcba" {
					t.Errorf("order %q, want gfedcba", s)
				}
				if n := len(f.list(t, privacy.Filter{ActorID: f.peer.ID}).Entries); n != 3 {
					t.Errorf("by actor: %d, want 3", n)
				}
				p := f.list(t, privacy.Filter{Since: start.Add(2 * time.Minute), Until: start.Add(4 * time.Minute)})
				if len(p.Entries) != 3 {
					t.Errorf("since/until: %+v", p.Entries)
				}
				if n := len(f.list(t, privacy.Filter{OwnerID: f.peer.ID}).Entries); n != 0 {
					t.Errorf("the peer owns no clip but sees %d entries", n)
				}
				if _, err := f.log.List(context.Background(), privacy.Filter{After: "nonsense"}); err == nil {
					t.Error("a bad cursor was accepted")
				}
			})
			t.Run("purge with the retention period", func(t *testing.T) {
				f := setup(t, d.Open(t))
				f.log.Retention = 400 * 24 * time.Hour
				f.record(t, audit.Event{ActorID: f.owner.ID, Action: audit.ClipShare, ClipID: f.clip.ID, Detail: "old"})
				f.clk.add(200 * 24 * time.Hour)
				f.record(t, audit.Event{ActorID: f.owner.ID, Action: audit.ClipShare, ClipID: f.clip.ID, Detail: "newer"})
				if n, err := f.log.PurgeExpired(context.Background()); err != nil || n != 0 {
					t.Fatalf("purge at 200 days: %d, %v", n, err)
				}
				f.clk.add(201 * 24 * time.Hour)
				if n, err := f.log.PurgeExpired(context.Background()); err != nil || n != 1 {
					t.Fatalf("purge at 401 days: %d, %v", n, err)
				}
				p := f.list(t, privacy.Filter{ClipID: f.clip.ID})
				if len(p.Entries) != 1 || p.Entries[0].Detail != "newer" {
					t.Errorf("left: %+v", p.Entries)
				}
				f.log.Retention = 0
				f.clk.add(10000 * 24 * time.Hour)
				if n, err := f.log.PurgeExpired(context.Background()); err != nil || n != 0 {
					t.Errorf("retention 0 keeps everything; purged %d, %v", n, err)
				}
			})
		})
	}
}

func TestWriteCSV(t *testing.T) {
	t.Parallel()
	f := setup(t, databases()[0].Open(t))
	hostile := []string{`=HYPERLINK("http://evil.example","x")`, "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR", `quote "and", comma`, "line\nbreak"}
	for _, s := range hostile {
		f.record(t, audit.Event{ActorID: f.peer.ID, Action: audit.ClipShare, ClipID: f.clip.ID, Subject: s, Address: "192.0.2.1"})
		f.clk.add(time.Second)
	}
	for _, withAddress := range []bool{true, false} {
		var buf bytes.Buffer
		if err := f.log.WriteCSV(context.Background(), &buf, privacy.Filter{ClipID: f.clip.ID}, withAddress); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("not well-formed CSV: %v\n%s", err, buf.String())
		}
		if len(rows) != len(hostile)+1 {
			t.Fatalf("rows: %d, want %d", len(rows), len(hostile)+1)
		}
		head := strings.Join(rows[0], ",")
		if withAddress != strings.HasSuffix(head, ",address") {
			t.Errorf("header %q with address %v", head, withAddress)
		}
		for i, row := range rows[1:] {
			in := hostile[len(hostile)-1-i] // newest first
			subject := row[8]
			want := in
			if strings.ContainsAny(in[:1], "=+-@\t\r") {
				want = "'" + in
			}
			if subject != want {
				t.Errorf("subject cell %q, want %q", subject, want)
			}
			for _, cell := range row {
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
					t.Errorf("cell %q starts a formula", cell)
				}
			}
			if row[3] != "Pat Peer" || row[4] != "clip.share" || row[7] != "Fractions lesson" {
				t.Errorf("row %v", row)
			}
		}
	}
}
