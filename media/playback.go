package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/media/storage"
)

// PresignTTL is how long a presigned segment URL lives: long enough for a
// player to fetch a playlist's segments, short enough that a leaked URL
// soon stops working.
const PresignTTL = 15 * time.Minute

// maxPlaylist bounds a playlist read into memory for rewriting.
const maxPlaylist = 8 << 20

// serveMedia answers GET /clips/:id/media/* with authorization on every
// request. Local objects are served with Range support; on S3, playlists
// are rewritten so that segment URLs are presigned, and other objects
// redirect to a presigned URL. The bucket itself is never public.
func (h *Handler) serveMedia(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	clip, err := h.clips.Authorize(c.Request().Context(), a, accounts.ClipView, c.Param("id"))
	if err != nil {
		return err
	}
	rel := c.Param("*")
	if rel == "" || strings.Contains(rel, "..") || strings.HasPrefix(rel, "/") || path.Clean(rel) != rel {
		return apperr.NotFound("media file")
	}
	return h.serveObject(c, clip.ID, rel, "")
}

func (h *Handler) serveObject(c echo.Context, clipID, rel, downloadName string) error {
	ctx := c.Request().Context()
	key := mediaKey(clipID, rel)
	res := c.Response()
	if strings.HasSuffix(rel, ".m3u8") {
		return h.servePlaylist(c, key, rel)
	}
	if downloadName == "" {
		if u, err := h.store.PresignGet(ctx, key, PresignTTL); err == nil {
			if _, err := h.store.Stat(ctx, key); err != nil {
				return notFoundMedia(err)
			}
			res.Header().Set("Cache-Control", "private, no-store")
			return c.Redirect(http.StatusFound, u)
		} else if !errors.Is(err, storage.ErrPresignUnsupported) {
			return fmt.Errorf("presign %s: %w", key, err)
		}
	}
	obj, err := h.store.Open(ctx, key)
	if err != nil {
		return notFoundMedia(err)
	}
	defer obj.Close()
	info := obj.Info()
	ct := info.ContentType
	if ct == "" {
		ct = storage.ContentTypeFor(key)
	}
	res.Header().Set("Content-Type", ct)
	// Media files of a clip change only when it is processed again, which
	// is rare; an hour of private caching keeps seeking snappy. Captions
	// change when their owner edits them: revalidate those every time.
	res.Header().Set("Cache-Control", "private, max-age=3600")
	if strings.HasPrefix(rel, "captions/") {
		res.Header().Set("Cache-Control", "private, no-cache")
	}
	if downloadName != "" {
		res.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, downloadName))
	}
	http.ServeContent(res, c.Request(), "", info.ModTime, obj)
	return nil
}

func notFoundMedia(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return apperr.NotFound("media file")
	}
	return err
}

var uriAttr = regexp.MustCompile(`URI="([^"]+)"`)

// servePlaylist serves an HLS playlist, presigning segment URIs when the
// store can presign.
func (h *Handler) servePlaylist(c echo.Context, key, rel string) error {
	ctx := c.Request().Context()
	clipID := c.Param("id")
	// Subtitle playlists are made from the caption tracks, not stored.
	body, ok, err := h.captions.subtitlePlaylist(ctx, clipID, rel)
	if err != nil {
		return err
	}
	if !ok {
		obj, err := h.store.Open(ctx, key)
		if err != nil {
			return notFoundMedia(err)
		}
		body, err = io.ReadAll(io.LimitReader(obj, maxPlaylist))
		obj.Close()
		if err != nil {
			return fmt.Errorf("read playlist %s: %w", key, err)
		}
	}
	dir := path.Dir(rel)
	isMaster := bytes.Contains(body, []byte("#EXT-X-STREAM-INF"))
	presign := func(uri string) (string, error) {
		if strings.Contains(uri, "://") || strings.HasSuffix(uri, ".m3u8") || strings.HasSuffix(uri, ".vtt") && isMaster {
			return uri, nil // playlists are served (and authorized) by us
		}
		u, err := h.store.PresignGet(ctx, mediaKey(clipID, path.Join(dir, uri)), PresignTTL)
		if errors.Is(err, storage.ErrPresignUnsupported) {
			return uri, nil
		}
		return u, err
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxPlaylist)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			if strings.HasPrefix(line, "#EXT-X-MAP") || strings.HasPrefix(line, "#EXT-X-KEY") {
				var perr error
				line = uriAttr.ReplaceAllStringFunc(line, func(m string) string {
					u, err := presign(uriAttr.FindStringSubmatch(m)[1])
					perr = errors.Join(perr, err)
					return `URI="` + u + `"`
				})
				if perr != nil {
					return fmt.Errorf("presign playlist %s: %w", key, perr)
				}
			}
		default:
			u, err := presign(line)
			if err != nil {
				return fmt.Errorf("presign playlist %s: %w", key, err)
			}
			line = u
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read playlist %s: %w", key, err)
	}
	h.decoratePlaylist(c, &out, rel)
	c.Response().Header().Set("Cache-Control", "private, no-cache")
	return c.Blob(http.StatusOK, "application/vnd.apple.mpegurl", out.Bytes())
}

// decoratePlaylist lets the captions step add its subtitle group to the
// master playlist; a no-op until captions exist.
func (h *Handler) decoratePlaylist(c echo.Context, out *bytes.Buffer, rel string) {
	if h.MasterDecorator != nil && rel == "master.m3u8" {
		h.MasterDecorator(c.Request().Context(), c.Param("id"), out)
	}
}

// download serves the progressive MP4 as an attachment named after the clip.
func (h *Handler) download(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	clip, err := h.clips.Authorize(c.Request().Context(), a, accounts.ClipView, c.Param("id"))
	if err != nil {
		return err
	}
	if clip.Status != StatusReady && clip.Status != StatusCaptioning {
		return apperr.New(apperr.ErrConflict, "not_ready", "this clip is still being processed; try again when it is ready")
	}
	name := strings.Map(func(r rune) rune {
		if r == '"' || r == '/' || r == '\\' || r < 32 {
			return '_'
		}
		return r
	}, clip.Title) + ".mp4"
	return h.serveObject(c, clip.ID, "download.mp4", name)
}
