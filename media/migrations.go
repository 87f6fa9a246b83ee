package media

import (
	"embed"
	"io/fs"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the media schema (clips, their audience, captions and
// transcripts); it migrates after accounts.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err)
	}
	return sqldb.Migrations{Component: "media", FS: sub}
}
