package media

import (
	"context"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestLadderWaitsForTheProcessingLease: a ladder job fetched while the
// processing job that queued it still holds the clip's lease waits for it;
// a second copy of the job that holds the lease does not, on both
// databases.
func TestLadderWaitsForTheProcessingLease(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			e := newCapEnv(t, db)
			p := &Pipeline{Clips: e.clips, Log: quietLog()}
			j, err := NewJobs(ctx, db, JobsConfig{Timeout: time.Minute}, p, nil, true, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(j.close)
			process, err := j.insert(ctx, ProcessArgs{ClipID: e.clipID}, j.playable(ctx, e.clipID))
			if err != nil {
				t.Fatal(err)
			}
			ladder, err := j.insert(ctx, LadderArgs{ClipID: e.clipID}, j.background(ctx, e.clipID))
			if err != nil {
				t.Fatal(err)
			}
			ladder2, err := j.insert(ctx, LadderArgs{ClipID: e.clipID, Retry: "again"}, j.background(ctx, e.clipID))
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name       string
				owner      string
				holder, me int64
				wait       bool
			}{
				{"ladder while processing holds the lease", "tok", process, ladder, true},
				{"copy of the ladder that holds the lease", "tok", ladder, ladder2, false},
				{"copy of the processing job", "tok", process, process, false},
				{"nobody holds the lease", "", 0, ladder, false},
				{"handoff to a queued retry", leaseHandoff, 0, ladder, false},
			}
			for _, tc := range cases {
				if _, err := db.Writer().Exec(ctx, `UPDATE clips SET lease_owner = ?, lease_until = ?, lease_job = ? WHERE id = ?`,
					tc.owner, time.Now().Add(time.Minute).UnixMilli(), tc.holder, e.clipID); err != nil {
					t.Fatal(err)
				}
				if got := j.leases.heldByOtherStep(ctx, e.clipID, tc.me); got != tc.wait {
					t.Errorf("%s: waits %v, want %v", tc.name, got, tc.wait)
				}
			}
		})
	}
}
