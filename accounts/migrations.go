package accounts

import (
	"embed"
	"io/fs"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the accounts schema; it migrates first, since every other
// component refers to users and groups.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err) // the embedded folder is always there
	}
	return sqldb.Migrations{Component: "accounts", FS: sub}
}
