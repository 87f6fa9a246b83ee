package annotations_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

func seedClip(t *testing.T, db *sqldb.DB, clipID string) {
	t.Helper()
	ctx := context.Background()
	w := db.Writer()
	if _, err := w.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, 'Owner', 'x', 0, 0)`, "u_"+clipID, clipID+"@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec(ctx, `INSERT INTO clips (id, owner_id, title, status, created_at, updated_at) VALUES (?, ?, 'Lesson', 'ready', 0, 0)`, clipID, "u_"+clipID); err != nil {
		t.Fatal(err)
	}
}

func TestEventLogSeqIsGapFreeUnderConcurrency(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), media.Migrations(), annotations.Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			db := d.Open(t)
			seedClip(t, db, "c1")
			seedClip(t, db, "c2")
			log := annotations.NewEventLog(db)
			ctx := context.Background()
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						for _, clip := range []string{"c1", "c2"} {
							data, _ := json.Marshal(map[string]int{"i": i})
							if _, err := log.Append(ctx, annotations.Event{ClipID: clip, Type: "test", Data: data}); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			for _, clip := range []string{"c1", "c2"} {
				evs, err := log.Since(ctx, clip, 0, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 40 {
					t.Fatalf("%s: %d events, want 40", clip, len(evs))
				}
				for i, e := range evs {
					if e.Seq != int64(i+1) {
						t.Fatalf("%s: event %d has seq %d", clip, i, e.Seq)
					}
				}
				head, err := log.Head(ctx, clip)
				if err != nil || head != 40 {
					t.Fatalf("Head(%s) = %d, %v", clip, head, err)
				}
				tail, err := log.Since(ctx, clip, 35, 3)
				if err != nil || len(tail) != 3 || tail[0].Seq != 36 {
					t.Fatalf("Since(35, 3) = %v, %v", tail, err)
				}
			}
			if _, err := db.Writer().Exec(ctx, `DELETE FROM clips WHERE id = ?`, "c1"); err != nil {
				t.Fatal(err)
			}
			evs, _ := log.Since(ctx, "c1", 0, 10)
			if len(evs) != 0 {
				t.Fatalf("events of a deleted clip remain: %d", len(evs))
			}
		})
	}
}
