// Package frontend embeds the built web app (frontend/dist) into the
// binary. The TypeScript sources next to it are built by `make build`
// (npm run build); a binary built without them serves a page that says so.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built web app.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embedded folder always exists
	}
	return sub
}
