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
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/media/storage"
)

// PresignTTL is how long a presigned S3 URL lives. Players never see one
// in a playlist: a segment URL is a signed link to this server, which
// checks the viewer's access and then redirects to a URL presigned for
// this long, enough to follow the redirect and read the object.
const PresignTTL = time.Minute

// maxPlaylist bounds a playlist read into memory for rewriting.
const maxPlaylist = 8 << 20

// validMediaPath accepts the paths the pipeline writes: relative,
// slash-separated, clean, printable UTF-8, no segment starting with a dot
// (so no "..", no hidden sidecar files). Anything else is "not found",
// without reaching the store.
func validMediaPath(rel string) bool {
	if rel == "" || len(rel) > 512 || !utf8.ValidString(rel) || path.Clean(rel) != rel || strings.HasPrefix(rel, "/") {
		return false
	}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
	}
	return strings.IndexFunc(rel, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) < 0
}

// serveMedia answers GET /clips/:id/media/* with authorization on every
// request: by the session (or token), or by a signed link from a playlist
// whose person must still be allowed to view the clip, so that removing
// someone from the audience stops their media at once. Local objects are
// served with Range support; on S3 they redirect to a briefly presigned
// URL. The bucket itself is never public.
func (h *Handler) serveMedia(c echo.Context) error {
	ctx := c.Request().Context()
	clipID, rel := c.Param("id"), c.Param("*")
	if !validMediaPath(rel) {
		return apperr.NotFound("media file")
	}
	var a accounts.Actor
	if q := c.QueryParams(); h.signer != nil && Signed(q) && !strings.HasSuffix(rel, ".m3u8") {
		if !id.Valid(clipID) {
			return apperr.NotFound("clip")
		}
		userID, err := h.signer.Verify(clipID, rel, q)
		if err != nil {
			return err
		}
		u, err := h.clips.acc.User(ctx, userID)
		if err != nil {
			return err
		}
		a = u.Actor("media-link")
		// The access log names whom the link was made for.
		c.SetRequest(c.Request().WithContext(accounts.WithActor(ctx, a)))
	} else {
		var err error
		if a, err = accounts.RequireActor(c); err != nil {
			return err
		}
	}
	clip, err := h.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return err
	}
	if strings.HasSuffix(rel, ".m3u8") {
		return h.servePlaylist(c, a, clip, rel)
	}
	if rel == downloadFile {
		// The download's file is reachable here too: the same rule.
		if err := mayDownload(clip); err != nil {
			return err
		}
	}
	return h.serveObject(c, clip.ID, rel, "")
}

func (h *Handler) serveObject(c echo.Context, clipID, rel, downloadName string) error {
	ctx := c.Request().Context()
	key := mediaKey(clipID, rel)
	res := c.Response()
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
	// The browser may keep media but must ask again before using it, so a
	// person removed from the audience cannot replay from the cache: the
	// revalidation runs the access check and costs a 304 when allowed.
	// (An hour of max-age made seeking back free, but kept a removed
	// viewer watching for that hour.)
	res.Header().Set("Cache-Control", "private, no-cache")
	if downloadName != "" {
		res.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename=%q`, downloadName))
	}
	http.ServeContent(res, c.Request(), "", info.ModTime, obj)
	return nil
}

func notFoundMedia(err error) error {
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrInvalidKey) {
		return apperr.NotFound("media file")
	}
	return err
}

var uriAttr = regexp.MustCompile(`URI="([^"]+)"`)

// startAtBeginning adds #EXT-X-START to an EVENT playlist (a source
// rendition still being packaged): players treat one as live and would
// otherwise start near its end, not at the start of the lesson.
func startAtBeginning(body []byte) []byte {
	if !bytes.Contains(body, []byte("#EXT-X-PLAYLIST-TYPE:EVENT")) || bytes.Contains(body, []byte("#EXT-X-START:")) {
		return body
	}
	first, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok || string(bytes.TrimSpace(first)) != "#EXTM3U" {
		return body
	}
	out := make([]byte, 0, len(body)+32)
	out = append(out, "#EXTM3U\n#EXT-X-START:TIME-OFFSET=0,PRECISE=YES\n"...)
	return append(out, rest...)
}

// servePlaylist serves an HLS playlist with signed segment URIs (see
// URLSigner): they work for the clip's length plus the link TTL, so a
// lesson watched through never outlives them (hls.js loads a VOD playlist
// once), and the web app's player fetches the playlist again when one has
// expired anyway (a long pause). Without a signer, segment URIs are
// presigned when the store can, else left for session requests.
func (h *Handler) servePlaylist(c echo.Context, a accounts.Actor, clip Clip, rel string) error {
	ctx := c.Request().Context()
	clipID := clip.ID
	key := mediaKey(clipID, rel)
	exp := h.clips.now().Add(time.Duration(clip.DurationMS)*time.Millisecond + h.linkTTL)
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
	body = startAtBeginning(body)
	dir := path.Dir(rel)
	isMaster := bytes.Contains(body, []byte("#EXT-X-STREAM-INF"))
	presign := func(uri string) (string, error) {
		if strings.Contains(uri, "://") || strings.HasSuffix(uri, ".m3u8") || strings.HasSuffix(uri, ".vtt") && isMaster {
			return uri, nil // playlists are served (and authorized) by us
		}
		if h.signer != nil {
			return uri + "?" + h.signer.Query(clipID, path.Join(dir, uri), a.UserID, exp), nil
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
	// Signed for one person: never stored anywhere.
	c.Response().Header().Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, "application/vnd.apple.mpegurl", out.Bytes())
}

// decoratePlaylist lets the captions step add its subtitle group to the
// master playlist; a no-op until captions exist.
func (h *Handler) decoratePlaylist(c echo.Context, out *bytes.Buffer, rel string) {
	if h.MasterDecorator != nil && rel == "master.m3u8" {
		h.MasterDecorator(c.Request().Context(), c.Param("id"), out)
	}
}

// downloadFile is the progressive MP4 in a clip's media folder.
const downloadFile = "download.mp4"

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
	if err := mayDownload(clip); err != nil {
		return err
	}
	if clip.Status != StatusReady && clip.Status != StatusCaptioning {
		return apperr.New(apperr.ErrConflict, "not_ready", "this clip is still being processed; try again when it is ready")
	}
	if clip.Ladder != nil && clip.Ladder.State == LadderPending {
		// Fast start: the MP4 is made with the full ladder.
		return apperr.New(apperr.ErrConflict, "not_ready", "the download is made with the clip's other qualities, which are still being prepared; try again in a few minutes")
	}
	name := strings.Map(func(r rune) rune {
		if r == '"' || r == '/' || r == '\\' || r < 32 {
			return '_'
		}
		return r
	}, clip.Title) + ".mp4"
	if err := h.serveObject(c, clip.ID, downloadFile, name); err != nil {
		return err
	}
	h.clips.Downloaded(c.Request().Context(), a, clip, c.Request())
	return nil
}
