package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// world is the cast of the authorization matrix: a group G run by a
// facilitator, with the clip owner (a teacher), a coach and a peer in it;
// another group H with its own member; an outsider; a site admin; a peer
// who was in G and was removed from it ("removed"); and a script holding
// an API token of the owner that the owner revoked ("revoked", a stolen
// token), and one that expired ("expired").
type world struct {
	*env
	people map[string]person
	g, h   string
	clip   string
	seq    atomic.Int64
}

var personas = []string{"owner", "coach", "peer", "other", "outsider", "anonymous", "admin", "removed", "revoked", "expired"}

// victimSecrets are texts of the world that only its members may read: no
// refusal may carry any of them.
var victimSecrets = []string{"Fractions lesson", "Cohort G", "owner@example.org", "Waited five seconds", "Longer wait time"}

func newWorld(t *testing.T) *world {
	e := sqliteEnv(t)
	w := &world{env: e, people: map[string]person{}}
	ctx := context.Background()
	fac := e.user("fac@example.org", "Facilitator", false)
	for _, p := range []struct {
		key   string
		admin bool
	}{{"owner", false}, {"coach", false}, {"peer", false}, {"other", false}, {"outsider", false}, {"admin", true}} {
		w.people[p.key] = e.user(p.key+"@example.org", strings.ToUpper(p.key[:1])+p.key[1:], p.admin)
	}
	w.people["anonymous"] = person{}
	g, err := e.srv.Accounts.CreateGroup(ctx, fac.user.Actor("session"), accounts.GroupInput{Name: "Cohort G"})
	if err != nil {
		t.Fatal(err)
	}
	w.g = g.ID
	for key, role := range map[string]accounts.Role{"owner": accounts.RoleTeacher, "coach": accounts.RoleCoach, "peer": accounts.RolePeer} {
		w.join(fac, w.g, key, role)
	}
	h, err := e.srv.Accounts.CreateGroup(ctx, w.people["other"].user.Actor("session"), accounts.GroupInput{Name: "Cohort H"})
	if err != nil {
		t.Fatal(err)
	}
	w.h = h.ID
	w.clip = e.clip(w.people["owner"], "Fractions lesson", w.g).ID
	// Give the clip stored media, as the pipeline would.
	for key, data := range map[string]string{"720p/index.m3u8": "#EXTM3U\n#EXTINF:4,\nseg_000.ts\n#EXT-X-ENDLIST\n", "download.mp4": "not really an mp4"} {
		if err := e.srv.media.store.Put(ctx, "clips/"+w.clip+"/media/"+key, strings.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET status = 'ready' WHERE id = ?`, w.clip); err != nil {
		t.Fatal(err)
	}
	w.people["facilitator"] = fac
	// The removed peer was a member of G (and so knows its IDs) until the
	// facilitator took them out.
	w.people["removed"] = e.user("removed@example.org", "Removed", false)
	w.join(fac, w.g, "removed", accounts.RolePeer)
	if err := e.srv.Accounts.RemoveMember(ctx, fac.user.Actor("session"), w.g, w.people["removed"].user.ID); err != nil {
		t.Fatal(err)
	}
	// The stolen token: the owner made it and revoked it.
	tok, err := e.srv.Accounts.CreateToken(ctx, w.people["owner"].user.ID, "laptop script")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Accounts.DeleteToken(ctx, w.people["owner"].user.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	w.people["revoked"] = person{user: w.people["owner"].user, bearer: tok.Token}
	// A full-scope token that has expired (the facilitator's: the owner's
	// would be revoked by the owner's own "sign out everywhere" row).
	old, err := e.srv.Accounts.IssueToken(ctx, fac.user.ID, accounts.TokenInput{Name: "old script", Scope: accounts.ScopeFull, ExpiresInDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Writer().Exec(ctx, `UPDATE api_tokens SET expires_at = ? WHERE id = ?`, sqldb.Millis(time.Now().Add(-time.Hour)), old.ID); err != nil {
		t.Fatal(err)
	}
	w.people["expired"] = person{user: fac.user, bearer: old.Token}
	return w
}

func (w *world) join(inviter person, groupID, key string, role accounts.Role) {
	w.t.Helper()
	ctx := context.Background()
	inv, err := w.srv.Accounts.CreateInvitation(ctx, inviter.user.Actor("session"), groupID, accounts.InvitationInput{Role: role})
	if err != nil {
		w.t.Fatal(err)
	}
	a := w.people[key].user.Actor("session")
	if _, _, err := w.srv.Accounts.AcceptInvitation(ctx, inv.Token, &a, accounts.NewUser{}); err != nil {
		w.t.Fatal(err)
	}
}

// route is one row of the matrix: a request and the status each persona
// gets. prepare, when set, makes a fresh target for each persona (for
// requests that change or delete what they touch) and returns the path.
type route struct {
	method, pattern string
	path            string
	body            func(w *world) string
	prepare         func(w *world, who string) string
	headers         map[string]string
	want            map[string]int
}

// statuses lists the seven first personas' statuses. The removed peer gets
// what an outsider gets, and the revoked token is refused on every route
// (see expected).
func statuses(owner, coach, peer, other, outsider, anonymous, admin int) map[string]int {
	return map[string]int{"owner": owner, "coach": coach, "peer": peer, "other": other, "outsider": outsider, "anonymous": anonymous, "admin": admin}
}

func all(status, anonymous int) map[string]int {
	return statuses(status, status, status, status, status, anonymous, status)
}

func body(s string) func(*world) string { return func(*world) string { return s } }

func accountsRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/setup", path: "/api/v1/setup", want: all(200, 200)},
		{method: "POST", pattern: "/api/v1/setup", path: "/api/v1/setup", body: body(`{"email":"x@example.org","name":"X","password":"long enough pass"}`), want: all(409, 409)},
		{method: "POST", pattern: "/api/v1/auth/login", path: "/api/v1/auth/login", body: func(w *world) string {
			return fmt.Sprintf(`{"email":"nobody%d@example.org","password":"wrong password"}`, w.seq.Add(1))
		}, want: all(401, 401)},
		{method: "POST", pattern: "/api/v1/auth/logout", path: "/api/v1/auth/logout", prepare: freshSession, want: all(204, 204)},
		{method: "GET", pattern: "/api/v1/me", path: "/api/v1/me", want: all(200, 401)},
		{method: "POST", pattern: "/api/v1/me/password", path: "/api/v1/me/password", body: body(`{"current_password":"not it at all","new_password":"another long password"}`), want: all(400, 401)},
		{method: "GET", pattern: "/api/v1/me/tokens", path: "/api/v1/me/tokens", want: all(200, 401)},
		{method: "POST", pattern: "/api/v1/me/tokens", path: "/api/v1/me/tokens", body: body(`{"name":"script","scope":"read","expires_in_days":30}`), want: all(201, 401)},
		{method: "DELETE", pattern: "/api/v1/me/tokens/:tid", prepare: func(w *world, who string) string {
			// Everyone tries to revoke the owner's token: only the owner can.
			t, err := w.srv.Accounts.CreateToken(context.Background(), w.people["owner"].user.ID, "ci")
			if err != nil {
				w.t.Fatal(err)
			}
			return "/api/v1/me/tokens/" + t.ID
		}, want: statuses(204, 404, 404, 404, 404, 401, 404)},
		{method: "GET", pattern: "/api/v1/me/sessions", path: "/api/v1/me/sessions", want: all(200, 401)},
		{method: "DELETE", pattern: "/api/v1/me/sessions/:sid", prepare: func(w *world, who string) string {
			// Everyone tries to sign out one of the owner's browsers: only the owner can.
			se, err := w.srv.Accounts.CreateSession(context.Background(), w.people["owner"].user.ID, "phone")
			if err != nil {
				w.t.Fatal(err)
			}
			return "/api/v1/me/sessions/" + se.ID
		}, want: statuses(204, 404, 404, 404, 404, 401, 404)},
		// Each persona signs out its own other browsers and tokens; the
		// session making the request stays.
		{method: "POST", pattern: "/api/v1/me/sessions/revoke-others", path: "/api/v1/me/sessions/revoke-others", want: all(200, 401)},
		{method: "GET", pattern: "/api/v1/users", path: "/api/v1/users", want: statuses(403, 403, 403, 403, 403, 401, 200)},
		{method: "GET", pattern: "/api/v1/groups", path: "/api/v1/groups", want: all(200, 401)},
		{method: "POST", pattern: "/api/v1/groups", path: "/api/v1/groups", body: body(`{"name":"New cohort"}`), want: all(201, 401)},
		{method: "GET", pattern: "/api/v1/groups/:gid", path: "/api/v1/groups/{G}", want: statuses(200, 200, 200, 404, 404, 401, 200)},
		{method: "PATCH", pattern: "/api/v1/groups/:gid", path: "/api/v1/groups/{G}", body: body(`{"name":"Cohort G (spring)"}`), want: statuses(403, 403, 403, 404, 404, 401, 200)},
		{method: "DELETE", pattern: "/api/v1/groups/:gid", prepare: func(w *world, who string) string {
			return "/api/v1/groups/" + w.freshGroup()
		}, want: statuses(403, 403, 403, 404, 404, 401, 204)},
		{method: "POST", pattern: "/api/v1/groups/:gid/invitations", path: "/api/v1/groups/{G}/invitations", body: body(`{"role":"peer"}`), want: statuses(403, 201, 403, 404, 404, 401, 201)},
		{method: "PATCH", pattern: "/api/v1/groups/:gid/members/:uid", path: "/api/v1/groups/{G}/members/{peer}", body: body(`{"role":"peer"}`), want: statuses(403, 403, 403, 404, 404, 401, 204)},
		{method: "DELETE", pattern: "/api/v1/groups/:gid/members/:uid", prepare: func(w *world, who string) string {
			key := fmt.Sprintf("m%d", w.seq.Add(1))
			w.people[key] = w.user(key+"@example.org", key, false)
			w.join(w.people["facilitator"], w.g, key, accounts.RolePeer)
			return "/api/v1/groups/" + w.g + "/members/" + w.people[key].user.ID
		}, want: statuses(403, 403, 403, 404, 404, 401, 204)},
		{method: "GET", pattern: "/api/v1/invitations/:token", prepare: func(w *world, who string) string {
			return "/api/v1/invitations/" + w.freshInvitation()
		}, want: all(200, 200)},
		{method: "POST", pattern: "/api/v1/invitations/:token/accept", prepare: func(w *world, who string) string {
			return "/api/v1/invitations/" + w.freshInvitation() + "/accept"
		}, body: func(w *world) string {
			return fmt.Sprintf(`{"email":"new%d@example.org","name":"Newcomer","password":"a long enough password"}`, w.seq.Add(1))
		}, want: all(200, 200)},
	}
}

func clipRoutes() []route {
	return []route{
		{method: "GET", pattern: "/api/v1/clips", path: "/api/v1/clips?scope=all", want: all(200, 401)},
		{method: "GET", pattern: "/api/v1/clips/:id", path: "/api/v1/clips/{C}", want: statuses(200, 200, 200, 404, 404, 401, 404)},
		{method: "PATCH", pattern: "/api/v1/clips/:id", path: "/api/v1/clips/{C}", body: body(`{"title":"Fractions, take 2"}`), want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "PUT", pattern: "/api/v1/clips/:id/audience", path: "/api/v1/clips/{C}/audience", body: func(w *world) string {
			return `{"group_ids":["` + w.g + `"]}`
		}, want: statuses(200, 403, 403, 404, 404, 401, 404)},
		{method: "DELETE", pattern: "/api/v1/clips/:id", prepare: func(w *world, who string) string {
			return "/api/v1/clips/" + w.clipFor()
		}, want: statuses(204, 403, 403, 404, 404, 401, 204)},
		{method: "GET", pattern: "/api/v1/clips/:id/media/*", path: "/api/v1/clips/{C}/media/720p/index.m3u8", want: statuses(200, 200, 200, 404, 404, 401, 404)},
		// Downloads are off until the site and the clip allow them
		// (TestDownloadsNeedSiteAndClip).
		{method: "GET", pattern: "/api/v1/clips/:id/download", path: "/api/v1/clips/{C}/download", want: statuses(403, 403, 403, 404, 404, 401, 404)},
	}
}

var tusCreate = map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": "5",
	"Upload-Metadata": "filename bGVzc29uLm1wNA==,filetype dmlkZW8vbXA0"}

func tusPatch() map[string]string {
	return map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
}

// uploadRoutes: anyone signed in may upload; an upload belongs to whoever
// created it, and nobody else may see, continue or cancel it.
func uploadRoutes() []route {
	ownersUpload := func(w *world, who string) string {
		res := w.doWith(w.people["owner"], "POST", "/api/v1/uploads", "", tusCreate)
		if res.status != 201 {
			w.t.Fatalf("create upload: %d %s", res.status, res.body)
		}
		loc := res.header.Get("Location")
		return loc[strings.Index(loc, "/api/v1/uploads/"):]
	}
	tus := map[string]string{"Tus-Resumable": "1.0.0"}
	return []route{
		{method: "POST", pattern: "/api/v1/uploads", path: "/api/v1/uploads", headers: tusCreate, want: all(201, 401)},
		{method: "POST", pattern: "/api/v1/uploads/", path: "/api/v1/uploads/", headers: tusCreate, want: all(201, 401)},
		{method: "OPTIONS", pattern: "/api/v1/uploads", path: "/api/v1/uploads", headers: tus, want: all(200, 200)},
		{method: "OPTIONS", pattern: "/api/v1/uploads/*", prepare: ownersUpload, headers: tus, want: all(200, 200)},
		{method: "HEAD", pattern: "/api/v1/uploads/*", prepare: ownersUpload, headers: tus, want: statuses(200, 404, 404, 404, 404, 401, 404)},
		{method: "PATCH", pattern: "/api/v1/uploads/*", prepare: ownersUpload, body: body("hello"), headers: tusPatch(), want: statuses(204, 404, 404, 404, 404, 401, 404)},
		{method: "DELETE", pattern: "/api/v1/uploads/*", prepare: ownersUpload, headers: tus, want: statuses(204, 404, 404, 404, 404, 401, 404)},
	}
}

func freshSession(w *world, who string) string {
	if p := w.people[who]; p.session.Token != "" {
		se, err := w.srv.Accounts.CreateSession(context.Background(), p.user.ID, "logout test")
		if err != nil {
			w.t.Fatal(err)
		}
		p.session = se
		w.people[who+"#logout"] = p
	}
	return "/api/v1/auth/logout"
}

func (w *world) freshGroup() string {
	g, err := w.srv.Accounts.CreateGroup(context.Background(), w.people["facilitator"].user.Actor("session"), accounts.GroupInput{Name: "Temp"})
	if err != nil {
		w.t.Fatal(err)
	}
	for key, role := range map[string]accounts.Role{"owner": accounts.RoleTeacher, "coach": accounts.RoleCoach, "peer": accounts.RolePeer} {
		w.join(w.people["facilitator"], g.ID, key, role)
	}
	return g.ID
}

// freshInvitation invites to a throwaway group, so that accepting it does
// not change who is in G.
func (w *world) freshInvitation() string {
	g, err := w.srv.Accounts.CreateGroup(context.Background(), w.people["facilitator"].user.Actor("session"), accounts.GroupInput{Name: "Throwaway"})
	if err != nil {
		w.t.Fatal(err)
	}
	inv, err := w.srv.Accounts.CreateInvitation(context.Background(), w.people["facilitator"].user.Actor("session"), g.ID, accounts.InvitationInput{Role: accounts.RolePeer})
	if err != nil {
		w.t.Fatal(err)
	}
	return inv.Token
}

func (w *world) clipFor() string {
	return w.env.clip(w.people["owner"], "Temp clip", w.g).ID
}

func (w *world) expand(path string) string {
	r := strings.NewReplacer("{G}", w.g, "{H}", w.h, "{C}", w.clip, "{peer}", w.people["peer"].user.ID, "{owner}", w.people["owner"].user.ID)
	return r.Replace(path)
}

// matrixRoutes is every API route with its expected statuses; issues that
// add routes add their rows here.
func matrixRoutes() []route {
	rs := append(accountsRoutes(), clipRoutes()...)
	rs = append(append(rs, uploadRoutes()...), captionsMatrixRoutes()...)
	rs = append(rs, auditMatrixRoutes()...)
	rs = append(rs, exportMatrixRoutes()...)
	rs = append(rs, privacyMatrixRoutes()...)
	rs = append(rs, redactionMatrixRoutes()...)
	return append(rs, annotationRoutes()...)
}

// expected is the status who gets on r: the row's, else the removed peer
// is an outsider (leaving a group leaves nothing behind) and a revoked
// token is signed out of everything, even of routes strangers may use.
func (r route) expected(who string) int {
	if s, ok := r.want[who]; ok {
		return s
	}
	switch who {
	case "removed":
		return r.want["outsider"]
	case "revoked", "expired":
		return 401
	}
	panic("no status for " + who)
}

// refusalCode is the error code a refusal of who with status carries.
func refusalCode(pattern, who string, status int) string {
	switch {
	case who == "revoked" && status == 401:
		return "invalid_token"
	case who == "expired" && status == 401:
		return "token_expired"
	case pattern == "/api/v1/auth/login" && status == 401:
		return "invalid_credentials"
	case status == 401:
		return "unauthorized"
	case status == 404:
		return "not_found"
	case status == 403:
		return "forbidden"
	}
	return ""
}

// checkRefusal asserts that a refused request says so in the JSON error
// shape with the expected code, and leaks none of the victim's texts.
func checkRefusal(t *testing.T, what string, res response, code string) {
	t.Helper()
	if code != "" && !strings.Contains(res.body, `"error":{"code":"`+code+`"`) {
		t.Errorf("%s: status %d, want error code %q: %s", what, res.status, code, res.body)
	}
	for _, s := range victimSecrets {
		if strings.Contains(res.body, s) {
			t.Errorf("%s: the refusal leaks %q: %s", what, s, res.body)
		}
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rs := matrixRoutes()
	t.Logf("attack suite: authorization matrix: %d cases", len(rs)*len(personas))
	for _, r := range rs {
		for _, who := range personas {
			path := w.expand(r.path)
			if r.prepare != nil {
				path = r.prepare(w, who)
			}
			p := w.people[who]
			if alt, ok := w.people[who+"#logout"]; ok && r.pattern == "/api/v1/auth/logout" {
				p = alt
			}
			b := ""
			if r.body != nil {
				b = r.body(w)
			}
			res := w.doWith(p, r.method, path, b, r.headers)
			want := r.expected(who)
			if res.status != want {
				t.Errorf("%s %s as %s: status %d, want %d; body %s", r.method, r.pattern, who, res.status, want, res.body)
			}
			// tus answers in its own protocol's plain-text errors, except
			// for refusals of the authentication middleware in front of it.
			tus := strings.HasPrefix(r.pattern, "/api/v1/uploads") && who != "revoked" && who != "expired"
			if res.status >= 400 && r.method != "HEAD" && !tus && !strings.Contains(res.body, `"error":{"code":`) {
				t.Errorf("%s %s as %s: error body is not the JSON error shape: %s", r.method, r.pattern, who, res.body)
			}
			if res.status >= 400 && r.method != "HEAD" {
				code := refusalCode(r.pattern, who, res.status)
				if tus {
					code = ""
				}
				checkRefusal(t, r.method+" "+r.pattern+" as "+who, res, code)
			}
		}
	}
}

// TestMatrixCoversEveryRoute fails when a route exists that the matrix does
// not test, so new endpoints cannot skip authorization tests.
func TestMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	covered := map[string]bool{}
	for _, r := range matrixRoutes() {
		covered[r.method+" "+r.pattern] = true
	}
	var missing []string
	for _, rt := range e.srv.Echo().Routes() {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Path == "/api/v1/*" {
			continue
		}
		if !covered[rt.Method+" "+rt.Path] {
			missing = append(missing, rt.Method+" "+rt.Path)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes without authorization-matrix rows:\n%s", strings.Join(missing, "\n"))
	}
}
