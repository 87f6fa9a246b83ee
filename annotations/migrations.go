package annotations

import (
	"embed"
	"io/fs"

	"github.com/filmroom/filmroom/internal/sqldb"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the annotations schema (events, rubrics, annotations,
// reflections, goals); it migrates after accounts and media.
func Migrations() sqldb.Migrations {
	sub, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		panic(err)
	}
	return sqldb.Migrations{Component: "annotations", FS: sub}
}
