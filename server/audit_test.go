package server

import (
	"context"
	"encoding/csv"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/privacy"
)

// auditCast is a site for the audit tests: the owner's clip C shared with
// group G (owner, peer); another teacher's clip; an outsider; an admin.
// Requests come through a trusted proxy that names the client address.
type auditCast struct {
	*env
	owner, peer, other, outsider, admin person
	g, clip, otherClip                  string
}

// clientAddr is the address the trusted proxy says the browser has.
const clientAddr = "203.0.113.9"

func newAuditCast(t *testing.T, d testsvc.Database) *auditCast {
	t.Helper()
	_, proxy, _ := net.ParseCIDR("127.0.0.1/32")
	e := newEnvWith(t, d.Open(t), func(c *Config) { c.TrustedProxies = []*net.IPNet{proxy} })
	c := &auditCast{env: e}
	ctx := context.Background()
	c.owner = e.user("owner@example.org", "Olive Owner", false)
	c.peer = e.user("peer@example.org", "Pat Peer", false)
	c.other = e.user("other@example.org", "Otto Other", false)
	c.outsider = e.user("outsider@example.org", "Una Outsider", false)
	c.admin = e.user("admin@example.org", "Ada Admin", true)
	g, err := e.srv.Accounts.CreateGroup(ctx, c.owner.user.Actor("session"), accounts.GroupInput{Name: "Cohort G"})
	if err != nil {
		t.Fatal(err)
	}
	c.g = g.ID
	inv, err := e.srv.Accounts.CreateInvitation(ctx, c.owner.user.Actor("session"), c.g, accounts.InvitationInput{Role: accounts.RolePeer})
	if err != nil {
		t.Fatal(err)
	}
	a := c.peer.user.Actor("session")
	if _, _, err := e.srv.Accounts.AcceptInvitation(ctx, inv.Token, &a, accounts.NewUser{}); err != nil {
		t.Fatal(err)
	}
	c.clip = e.clip(c.owner, "Fractions lesson", "").ID
	c.otherClip = e.clip(c.other, "Other lesson", "").ID
	// Give clip C a download, as the pipeline would.
	data := "not really an mp4"
	if err := e.srv.media.store.Put(ctx, "clips/"+c.clip+"/media/download.mp4", strings.NewReader(data), int64(len(data)), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET status = 'ready' WHERE id = ?`, c.clip); err != nil {
		t.Fatal(err)
	}
	e.allowDownloads(c.clip)
	return c
}

// as sends a request as p through the proxy.
func (c *auditCast) as(p person, method, path, body string, headers ...string) response {
	c.t.Helper()
	h := map[string]string{"X-Forwarded-For": clientAddr}
	for i := 0; i+1 < len(headers); i += 2 {
		h[headers[i]] = headers[i+1]
	}
	return c.doWith(p, method, path, body, h)
}

func (c *auditCast) ok(p person, method, path, body string) response {
	c.t.Helper()
	res := c.as(p, method, path, body)
	if res.status >= 300 {
		c.t.Fatalf("%s %s: %d %s", method, path, res.status, res.body)
	}
	return res
}

func (c *auditCast) page(p person, path string) []privacy.Entry {
	c.t.Helper()
	var pg privacy.Page
	c.ok(p, "GET", path, "").json(c.t, &pg)
	return pg.Entries
}

// has reports whether an entry matches every field set in want.
func has(entries []privacy.Entry, want privacy.Entry) bool {
	for _, e := range entries {
		if e.Action == want.Action && e.ActorID == want.ActorID && (want.ClipID == "" || e.ClipID == want.ClipID) &&
			(want.Subject == "" || e.Subject == want.Subject) && (want.Address == "" || e.Address == want.Address) &&
			(want.ClipTitle == "" || e.ClipTitle == want.ClipTitle) && (want.ActorName == "" || e.ActorName == want.ActorName) {
			return true
		}
	}
	return false
}

func count(entries []privacy.Entry, act audit.Action) int {
	n := 0
	for _, e := range entries {
		if e.Action == act {
			n++
		}
	}
	return n
}

// TestAuditLogRecordsEveryAction: each view, download, share, unshare,
// delete, sign-in and failed sign-in lands in the log with who did it, to
// which clip, from which address; the owner sees their clips' log only,
// the admin the whole site's.
func TestAuditLogRecordsEveryAction(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(Migrations()...) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			c := newAuditCast(t, d)
			// Sign-ins: a success, a wrong password, an unknown email.
			c.ok(person{}, "POST", "/api/v1/auth/login", `{"email":"peer@example.org","password":"a long enough password"}`)
			if res := c.as(person{}, "POST", "/api/v1/auth/login", `{"email":"peer@example.org","password":"not the password"}`); res.status != 401 {
				t.Fatalf("wrong password: %d", res.status)
			}
			if res := c.as(person{}, "POST", "/api/v1/auth/login", `{"email":"nobody@example.org","password":"not the password"}`); res.status != 401 {
				t.Fatalf("unknown email: %d", res.status)
			}
			// Share with the group, the peer by id and an address; then take
			// the peer and the address out again.
			clipPath := "/api/v1/clips/" + c.clip
			c.ok(c.owner, "PUT", clipPath+"/audience", `{"group_ids":["`+c.g+`"],"user_ids":["`+c.peer.user.ID+`"],"emails":["guest@example.org"]}`)
			c.ok(c.owner, "PUT", clipPath+"/audience", `{"group_ids":["`+c.g+`"]}`)
			// The peer opens the clip page twice and plays it (media fetches
			// are not views), then downloads it, once resuming mid-file.
			c.ok(c.peer, "GET", clipPath, "")
			c.ok(c.peer, "GET", clipPath, "")
			c.ok(c.peer, "GET", clipPath+"/download", "")
			if res := c.as(c.peer, "GET", clipPath+"/download", "", "Range", "bytes=5-"); res.status != 206 {
				t.Fatalf("resumed download: %d", res.status)
			}
			c.ok(c.other, "GET", "/api/v1/clips/"+c.otherClip, "")

			site := c.page(c.admin, "/api/v1/admin/audit?limit=1000")
			for _, want := range []privacy.Entry{
				{Action: audit.SignIn, ActorID: c.peer.user.ID, ActorName: "Pat Peer", Subject: "peer@example.org", Address: clientAddr},
				{Action: audit.SignInFailed, ActorID: c.peer.user.ID, Subject: "peer@example.org", Address: clientAddr},
				{Action: audit.SignInFailed, ActorID: "", Subject: "nobody@example.org", Address: clientAddr},
				{Action: audit.ClipShare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "Cohort G", Address: clientAddr},
				{Action: audit.ClipShare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "Pat Peer", Address: clientAddr},
				{Action: audit.ClipShare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "guest@example.org", Address: clientAddr},
				{Action: audit.ClipUnshare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "Pat Peer", Address: clientAddr},
				{Action: audit.ClipUnshare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "guest@example.org", Address: clientAddr},
				{Action: audit.ClipView, ActorID: c.peer.user.ID, ActorName: "Pat Peer", ClipID: c.clip, ClipTitle: "Fractions lesson", Address: clientAddr},
				{Action: audit.ClipDownload, ActorID: c.peer.user.ID, ClipID: c.clip, Address: clientAddr},
				{Action: audit.ClipView, ActorID: c.other.user.ID, ClipID: c.otherClip, Address: clientAddr},
			} {
				if !has(site, want) {
					t.Errorf("the site log lacks %+v", want)
				}
			}
			if n := count(site, audit.ClipShare); n != 3 {
				t.Errorf("shares: %d, want 3 (the second audience kept the group)", n)
			}
			if n := count(site, audit.ClipUnshare); n != 2 {
				t.Errorf("unshares: %d, want 2", n)
			}
			if n := count(site, audit.ClipView); n != 2 {
				t.Errorf("views: %d, want 2 (one per person and clip in 30 minutes)", n)
			}
			if n := count(site, audit.ClipDownload); n != 1 {
				t.Errorf("downloads: %d, want 1 (a resumed download is the same one)", n)
			}

			// The owner sees their clip's log, without addresses, and nothing
			// of the other teacher's clip or of sign-ins.
			mine := c.page(c.owner, "/api/v1/me/audit")
			ofClip := c.page(c.owner, clipPath+"/audit")
			for name, entries := range map[string][]privacy.Entry{"me/audit": mine, "clips/:id/audit": ofClip} {
				if !has(entries, privacy.Entry{Action: audit.ClipView, ActorID: c.peer.user.ID, ClipID: c.clip}) ||
					!has(entries, privacy.Entry{Action: audit.ClipShare, ActorID: c.owner.user.ID, ClipID: c.clip, Subject: "Pat Peer"}) {
					t.Errorf("%s lacks the peer's view or the share: %+v", name, entries)
				}
				for _, e := range entries {
					if e.ClipID != c.clip || e.Address != "" {
						t.Errorf("%s shows the owner %+v", name, e)
					}
				}
			}
			if got := c.page(c.admin, clipPath+"/audit"); len(got) != len(ofClip) || got[0].Address != clientAddr {
				t.Errorf("the admin's view of the clip's log: %+v", got)
			}
			if got := c.page(c.other, "/api/v1/me/audit"); len(got) != 1 || got[0].ClipID != c.otherClip {
				t.Errorf("the other teacher's log: %+v", got)
			}
			// Filters.
			if got := c.page(c.owner, "/api/v1/me/audit?action=clip.view&actor_id="+c.peer.user.ID); len(got) != 1 {
				t.Errorf("filtered: %+v", got)
			}
			// Nobody else reads the clip's or the site's log.
			for _, r := range []struct {
				who    person
				path   string
				status int
			}{{c.peer, clipPath + "/audit", 403}, {c.outsider, clipPath + "/audit", 404}, {c.other, clipPath + "/audit", 404},
				{person{}, clipPath + "/audit", 401}, {c.owner, "/api/v1/admin/audit", 403}, {c.peer, "/api/v1/admin/audit", 403}} {
				if res := c.as(r.who, "GET", r.path, ""); res.status != r.status || strings.Contains(res.body, "Fractions lesson") {
					t.Errorf("GET %s as %s: %d %s, want %d", r.path, r.who.user.Name, res.status, res.body, r.status)
				}
			}

			// Delete: recorded, and the owner's log keeps the clip's entries.
			c.ok(c.owner, "DELETE", clipPath, "")
			mine = c.page(c.owner, "/api/v1/me/audit")
			if !has(mine, privacy.Entry{Action: audit.ClipDelete, ActorID: c.owner.user.ID, ClipID: c.clip, ClipTitle: "Fractions lesson"}) ||
				!has(mine, privacy.Entry{Action: audit.ClipView, ActorID: c.peer.user.ID, ClipID: c.clip}) {
				t.Errorf("after the delete, the owner's log: %+v", mine)
			}
			if !has(c.page(c.admin, "/api/v1/admin/audit?action=clip.delete"), privacy.Entry{Action: audit.ClipDelete, ActorID: c.owner.user.ID, ClipID: c.clip, Address: clientAddr}) {
				t.Error("the site log lacks the delete")
			}
		})
	}
}

// TestAuditLogCSV: ?format=csv and Accept: text/csv answer an attachment
// that parses, with formulas defused and addresses for admins only.
func TestAuditLogCSV(t *testing.T) {
	t.Parallel()
	c := newAuditCast(t, testsvc.Databases(Migrations()...)[0])
	c.ok(c.owner, "PATCH", "/api/v1/clips/"+c.clip, `{"title":"=HYPERLINK(\"http://evil.example\",\"x\")"}`)
	c.ok(c.owner, "PUT", "/api/v1/clips/"+c.clip+"/audience", `{"group_ids":["`+c.g+`"]}`)
	c.ok(c.peer, "GET", "/api/v1/clips/"+c.clip, "")
	for _, r := range []struct {
		who         person
		path        string
		accept      string
		withAddress bool
	}{
		{c.owner, "/api/v1/clips/" + c.clip + "/audit?format=csv", "", false},
		{c.owner, "/api/v1/me/audit", "text/csv", false},
		{c.admin, "/api/v1/admin/audit?format=csv", "", true},
	} {
		res := c.as(r.who, "GET", r.path, "", "Accept", r.accept)
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") ||
			!strings.HasPrefix(res.header.Get("Content-Disposition"), "attachment; filename=") {
			t.Fatalf("GET %s: %d %v %s", r.path, res.status, res.header, res.body)
		}
		rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
		if err != nil {
			t.Fatalf("GET %s is not well-formed CSV: %v\n%s", r.path, err, res.body)
		}
		if len(rows) != 3 || strings.HasSuffix(strings.Join(rows[0], ","), ",address") != r.withAddress {
			t.Fatalf("GET %s: %v", r.path, rows)
		}
		view := rows[1]
		if view[4] != "clip.view" || view[3] != "Pat Peer" || view[7] != `'=HYPERLINK("http://evil.example","x")` {
			t.Errorf("GET %s: view row %q", r.path, view)
		}
		if r.withAddress && view[10] != clientAddr {
			t.Errorf("GET %s: address %q", r.path, view[10])
		}
	}
	if res := c.as(c.owner, "GET", "/api/v1/me/audit?format=xml", ""); res.status != 400 {
		t.Errorf("format=xml: %d", res.status)
	}
}

type failingRecorder struct{}

func (failingRecorder) Record(context.Context, audit.Event) error { return errors.New("disk full") }

// TestAuditFailureDoesNotFailRequests: a log that cannot be written is
// logged; the view, the share and the sign-in still succeed.
func TestAuditFailureDoesNotFailRequests(t *testing.T) {
	t.Parallel()
	c := newAuditCast(t, testsvc.Databases(Migrations()...)[0])
	c.srv.Clips.Audit, c.srv.Accounts.Audit = failingRecorder{}, failingRecorder{}
	c.ok(c.owner, "PUT", "/api/v1/clips/"+c.clip+"/audience", `{"group_ids":["`+c.g+`"]}`)
	c.ok(c.peer, "GET", "/api/v1/clips/"+c.clip, "")
	c.ok(c.peer, "GET", "/api/v1/clips/"+c.clip+"/download", "")
	c.ok(person{}, "POST", "/api/v1/auth/login", `{"email":"peer@example.org","password":"a long enough password"}`)
}

// TestAuditPurgeDaily: the housekeeping purges entries past the retention
// period on its first round and then once a day.
func TestAuditPurgeDaily(t *testing.T) {
	t.Parallel()
	db := testsvc.Databases(Migrations()...)[0].Open(t)
	day0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := privacy.NewLog(db, func() time.Time { return day0 })
	l.Retention = 10 * 24 * time.Hour
	ctx := context.Background()
	at := func(d int) {
		if err := l.Record(ctx, audit.Event{At: day0.Add(time.Duration(d) * 24 * time.Hour), Action: audit.SignInFailed, Subject: "x@example.org"}); err != nil {
			t.Fatal(err)
		}
	}
	left := func() int {
		p, err := l.List(ctx, privacy.Filter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Entries)
	}
	for d := 0; d < 5; d++ {
		at(d)
	}
	p := &auditPurge{log: l}
	p.due(ctx, day0.Add(12*24*time.Hour), discardLog()) // keeps days 2, 3, 4
	if n := left(); n != 3 {
		t.Fatalf("after the first round: %d entries, want 3", n)
	}
	p.due(ctx, day0.Add(12*24*time.Hour+23*time.Hour), discardLog()) // not a day later yet
	if n := left(); n != 3 {
		t.Fatalf("an hourly round purged: %d entries, want 3", n)
	}
	p.due(ctx, day0.Add(14*24*time.Hour), discardLog()) // keeps day 4
	if n := left(); n != 1 {
		t.Fatalf("a day later: %d entries, want 1", n)
	}
}
