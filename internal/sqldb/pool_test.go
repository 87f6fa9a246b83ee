package sqldb_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestReadPoolKeepsItsConnections: connections a burst of readers opened
// stay open for the next burst. Closing them (database/sql keeps two idle
// connections unless told otherwise) made every burst open new SQLite
// connections, each reading the schema and preparing every statement
// again.
func TestReadPoolKeepsItsConnections(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			const burst = 8 // SQLite's read pool holds at most 8
			for round := range 3 {
				conns := make([]*sql.Conn, burst)
				for i := range conns {
					c, err := db.R.Conn(ctx)
					if err != nil {
						t.Fatalf("round %d: connection %d: %v", round, i, err)
					}
					var one int
					if err := c.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil || one != 1 {
						t.Fatalf("round %d: SELECT 1 = %d, %v", round, one, err)
					}
					conns[i] = c
				}
				for _, c := range conns {
					c.Close()
				}
				st := db.R.Stats()
				if st.MaxIdleClosed != 0 || st.Idle < burst {
					t.Fatalf("round %d: %d idle, %d closed for the idle limit; want %d kept, none closed", round, st.Idle, st.MaxIdleClosed, burst)
				}
				if round > 0 && st.OpenConnections > burst {
					t.Fatalf("round %d: %d connections open; the burst needs %d", round, st.OpenConnections, burst)
				}
			}
		})
	}
}
