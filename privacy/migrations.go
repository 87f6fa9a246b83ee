package privacy

import (
	"embed"
	"io/fs"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the privacy schema (the audit log); it migrates after
// accounts and media, whose users and clips it reads when recording.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err)
	}
	return sqldb.Migrations{Component: "privacy", FS: sub}
}
