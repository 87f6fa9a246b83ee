package policy

import (
	"embed"
	"io/fs"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the policy schema (one settings row); it depends on no
// other component's tables.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err)
	}
	return sqldb.Migrations{Component: "privacy_policy", FS: sub}
}
