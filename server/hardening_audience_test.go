package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// TestAudienceRevealsNoAccounts: sharing by email answers the same for an
// address with an account and one without, never returns the ID or name
// of someone the sharer does not know from a group, and is capped.
func TestAudienceRevealsNoAccounts(t *testing.T) {
	t.Parallel()
	for _, db := range testsvc.Databases(Migrations()...) {
		t.Run(db.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, db.Open(t))
			ctx := context.Background()
			owner := e.user("owner@example.org", "Owner", false)
			peer := e.user("peer@example.org", "Pat Peer", false)
			stranger := e.user("stranger@example.org", "Sam Stranger", false)
			w := &world{env: e, people: map[string]person{"peer": peer}}
			g, err := e.srv.Accounts.CreateGroup(ctx, owner.user.Actor("session"), accounts.GroupInput{Name: "Cohort"})
			if err != nil {
				t.Fatal(err)
			}
			w.join(owner, g.ID, "peer", accounts.RolePeer)
			clip := e.clip(owner, "Lesson", "")
			path := "/api/v1/clips/" + clip.ID
			audience := func(res response) string {
				t.Helper()
				var out struct {
					Clip struct {
						Audience json.RawMessage `json:"audience"`
					} `json:"clip"`
				}
				res.json(t, &out)
				return string(out.Clip.Audience)
			}

			// An address with an account and one without look alike.
			known := e.do(owner, "PUT", path+"/audience", `{"emails":["Stranger@Example.org"]}`)
			if known.status != 200 {
				t.Fatalf("share by email: %d %s", known.status, known.body)
			}
			unknown := e.do(owner, "PUT", path+"/audience", `{"emails":["nobody@example.org"]}`)
			if unknown.status != 200 {
				t.Fatalf("share with an unknown email: %d %s", unknown.status, unknown.body)
			}
			if a, b := audience(known), strings.ReplaceAll(audience(unknown), "nobody@", "stranger@"); a != b {
				t.Errorf("the answers differ:\n%s\n%s", a, b)
			}
			if strings.Contains(known.body, stranger.user.ID) || strings.Contains(known.body, "Sam Stranger") {
				t.Errorf("the answer names the account: %s", known.body)
			}

			// The address that named an account grants access to it; the
			// one without an account grants nothing, even after sign-up.
			e.do(owner, "PUT", path+"/audience", `{"emails":["stranger@example.org","later@example.org"]}`)
			if res := e.do(stranger, "GET", path, ""); res.status != 200 {
				t.Errorf("shared by email, the stranger gets %d", res.status)
			}
			var list struct{ Clips []media.Clip }
			e.do(stranger, "GET", "/api/v1/clips?scope=shared", "").json(t, &list)
			if len(list.Clips) != 1 {
				t.Errorf("shared list of the stranger: %d clips", len(list.Clips))
			}
			later := e.user("later@example.org", "Late Comer", false)
			if res := e.do(later, "GET", path, ""); res.status != 404 {
				t.Errorf("an account made after the share sees the clip: %d", res.status)
			}
			// Only the owner sees the addresses.
			res := e.do(owner, "GET", path, "")
			if !strings.Contains(audience(res), `"emails":["later@example.org","stranger@example.org"]`) {
				t.Errorf("owner's view of the audience: %s", audience(res))
			}
			if res := e.do(stranger, "GET", path, ""); strings.Contains(res.body, "later@example.org") || strings.Contains(res.body, `"emails"`) {
				t.Errorf("a viewer sees the addresses: %s", res.body)
			}

			// IDs: only people the sharer knows from a group; the same
			// answer for a stranger's ID and an ID nobody has.
			for _, uid := range []string{stranger.user.ID, "06h4wcsmf1wkggbkw7xmtz3k7c"} {
				res := e.do(owner, "PUT", path+"/audience", `{"user_ids":["`+uid+`"]}`)
				if res.status != 400 || !strings.Contains(res.body, `"user_ids":"you can only name people you share a group with; add others by email"`) {
					t.Errorf("share with ID %s: %d %s", uid, res.status, res.body)
				}
			}
			if res := e.do(owner, "PUT", path+"/audience", `{"user_ids":["`+peer.user.ID+`"]}`); res.status != 200 || !strings.Contains(res.body, "Pat Peer") {
				t.Errorf("share with a group mate: %d %s", res.status, res.body)
			}
			// Saving without the stranger's address ends their access.
			if res := e.do(stranger, "GET", path, ""); res.status != 404 {
				t.Errorf("after the address was removed the stranger gets %d", res.status)
			}

			// At most 50 people in one request.
			many := make([]string, 51)
			for i := range many {
				many[i] = fmt.Sprintf(`"p%d@example.org"`, i)
			}
			if res := e.do(owner, "PUT", path+"/audience", `{"emails":[`+strings.Join(many, ",")+`]}`); res.status != 400 || !strings.Contains(res.body, "at most 50 people") {
				t.Errorf("51 emails: %d %s", res.status, res.body)
			}
			if res := e.do(owner, "PUT", path+"/audience", `{"emails":["not an address"]}`); res.status != 400 || !strings.Contains(res.body, `"emails"`) {
				t.Errorf("a bad address: %d %s", res.status, res.body)
			}
		})
	}
}
