package privacy_test

import (
	"context"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
)

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	for _, d := range databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t) // migrated up
			own := []sqldb.Migrations{privacy.Migrations()}
			if err := db.Down(ctx, own); err != nil {
				t.Fatalf("down: %v", err)
			}
			if _, err := db.Writer().Exec(ctx, `SELECT 1 FROM audit_events`); err == nil {
				t.Fatal("audit_events survived Down")
			}
			all := []sqldb.Migrations{accounts.Migrations(), media.Migrations(), privacy.Migrations()}
			if n, err := db.Up(ctx, all); err != nil || n != 1 {
				t.Fatalf("up again = %d, %v", n, err)
			}
			if _, err := db.Check(ctx, all); err != nil {
				t.Fatal(err)
			}
		})
	}
}
