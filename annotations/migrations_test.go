package annotations_test

import (
	"context"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
)

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t) // migrated up
			own := []sqldb.Migrations{annotations.Migrations()}
			if err := db.Down(ctx, own); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := db.Writer().Exec(ctx, `SELECT 1 FROM annotations`); err == nil {
				t.Fatal("annotations table survived Down")
			}
			all := []sqldb.Migrations{accounts.Migrations(), media.Migrations(), annotations.Migrations()}
			if n, err := db.Up(ctx, all); err != nil || n != 7 {
				t.Fatalf("up again = %d, %v", n, err)
			}
			if _, err := db.Check(ctx, all); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTimeWindowFollowsEditedRanges(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000)})
			w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](46000)})
			window := annotations.ListQuery{FromMS: ptr[int64](45000), ToMS: ptr[int64](47000)}
			if p, _ := w.svc.List(ctx, w.peer, w.clip, window); len(p.Items) != 1 {
				t.Fatalf("window before the edit: %d items", len(p.Items))
			}
			if _, err := w.svc.Update(ctx, w.coach, w.clip, ann.ID, annotations.AnnotationPatch{EndMS: annotations.Opt[int64]{Set: true, Value: 50000}}); err != nil {
				t.Fatal(err)
			}
			p, err := w.svc.List(ctx, w.peer, w.clip, window)
			if err != nil || len(p.Items) != 2 || p.Items[0].ID != ann.ID {
				t.Fatalf("window after stretching a range over it: %+v, %v", p.Items, err)
			}
			plan, err := w.svc.ExplainList(ctx, w.peer, w.clip, window)
			if err != nil || plan == "" {
				t.Fatalf("explain = %q, %v", plan, err)
			}
		})
	}
}
