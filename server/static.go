package server

import (
	"bytes"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

const notBuiltPage = `<!doctype html><html lang="en"><meta charset="utf-8"><title>filmroom</title>
<body style="font-family:system-ui;max-width:40rem;margin:4rem auto;line-height:1.5">
<h1>filmroom is running, but its web app was not built</h1>
<p>This binary was built without the web app. Run <code>make build</code> (or <code>make run</code>) in the filmroom folder,
which builds the web app and embeds it, then start the server again. The API is available under <code>/api/v1</code>.</p>`

// staticHandler serves the embedded web app: hashed assets are cached
// forever, everything else is revalidated, and unknown paths get index.html
// so the app's own router can show them.
func staticHandler(dist fs.FS) echo.HandlerFunc {
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		index = nil
	}
	started := time.Now()
	return func(c echo.Context) error {
		p := strings.TrimPrefix(path.Clean("/"+c.Request().URL.Path), "/")
		res := c.Response()
		if p != "" && p != "index.html" {
			if f, err := dist.Open(p); err == nil {
				st, err := f.Stat()
				f.Close()
				if err == nil && !st.IsDir() {
					if strings.HasPrefix(p, "assets/") {
						res.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
					} else {
						res.Header().Set("Cache-Control", "no-cache")
					}
					http.ServeFileFS(res, c.Request(), dist, p)
					return nil
				}
			}
			// A missing asset must not turn into index.html: the browser would
			// cache HTML as a script.
			if strings.HasPrefix(p, "assets/") || path.Ext(p) != "" {
				return echo.ErrNotFound
			}
		}
		res.Header().Set("Cache-Control", "no-cache")
		if index == nil {
			return c.HTML(http.StatusOK, notBuiltPage)
		}
		http.ServeContent(res, c.Request(), "index.html", started, bytes.NewReader(index))
		return nil
	}
}
