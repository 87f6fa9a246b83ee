package media

import (
	"context"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestFailKeepsPlayableClips: a failure after a clip became playable from
// its quick rendition fails only its ladder, on both databases; a clip
// that is not yet playable fails as before.
func TestFailKeepsPlayableClips(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, status, ladder   string
		wantStatus, wantLadder string
	}{
		{"playable, ladder pending", "ready", LadderPending, "ready", LadderFailed},
		{"still being made playable", "transcoding", "", "failed", ""},
		{"ladder already done", "ready", "", "failed", ""},
	}
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			e := newCapEnv(t, db)
			p := &Pipeline{Clips: e.clips, Log: quietLog()}
			for _, tc := range cases {
				if _, err := db.Writer().Exec(ctx, `UPDATE clips SET status = ?, ladder_state = ?, start_path = 'copy', failure_code = '' WHERE id = ?`,
					tc.status, tc.ladder, e.clipID); err != nil {
					t.Fatal(err)
				}
				if err := p.Fail(ctx, e.clipID, "processing_failed", "could not"); err != nil {
					t.Fatal(err)
				}
				c, err := e.clips.get(ctx, e.clipID)
				if err != nil {
					t.Fatal(err)
				}
				ladder := ""
				if c.Ladder != nil {
					ladder = c.Ladder.State
				}
				if string(c.Status) != tc.wantStatus || ladder != tc.wantLadder {
					t.Errorf("%s: status %s, ladder %q; want %s, %q", tc.name, c.Status, ladder, tc.wantStatus, tc.wantLadder)
				}
				if tc.wantStatus == "ready" && c.Failure != nil {
					t.Errorf("%s: a playable clip shows a failure: %+v", tc.name, c.Failure)
				}
			}
		})
	}
}
