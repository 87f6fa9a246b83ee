package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/textcheck"
	"github.com/filmroom/filmroom/media/captions"
)

// maxCaptionCues bounds an edited track: a three-hour lesson captioned
// densely has about 4,000 cues.
const maxCaptionCues = 20000

// captionRoutes registers the caption and transcript routes (mounted at
// /api/v1). Reading needs the right to view the clip, changing it the right
// to edit it (the owner).
func (h *Handler) captionRoutes(g *echo.Group) {
	g.GET("/clips/:id/captions", h.listCaptions)
	g.GET("/clips/:id/captions/:lang", h.getCaptionFile)
	g.PUT("/clips/:id/captions/:lang", h.uploadCaptions)
	g.DELETE("/clips/:id/captions/:lang", h.deleteCaptions)
	g.GET("/clips/:id/captions/:lang/cues", h.getCues)
	g.PUT("/clips/:id/captions/:lang/cues", h.putCues)
	g.POST("/clips/:id/captions/:lang/revert", h.revertCaptions)
	g.POST("/clips/:id/captions/generate", h.generateCaptions)
	g.GET("/clips/:id/captions/:lang/transcript", h.getTranscript)
	g.GET("/search/transcripts", h.searchTranscripts)
}

func (h *Handler) listCaptions(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, _, err := h.captions.authorize(ctx, a, accounts.ClipView, c.Param("id"), "")
	if err != nil {
		return err
	}
	st, err := h.captions.State(ctx, clip.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"captions": st})
}

// version reads the optional ?version= (machine or edited); "" means current.
func captionVersion(c echo.Context, t CaptionTrack) (string, error) {
	switch v := c.QueryParam("version"); v {
	case "", "current":
		return t.Current, nil
	case CaptionMachine, CaptionEdited:
		if v == CaptionMachine && !t.HasMachine || v == CaptionEdited && !t.HasEdited {
			return "", apperr.NotFound(v + " captions in " + t.Lang)
		}
		return v, nil
	default:
		return "", apperr.Invalid("version", "choose machine, edited or current")
	}
}

// getCaptionFile serves a track as WebVTT ("en" or "en.vtt") or SubRip
// ("en.srt", for editing tools and video platforms).
func (h *Handler) getCaptionFile(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	param := c.Param("lang")
	lang, srt := strings.CutSuffix(param, ".srt")
	if !srt {
		lang = strings.TrimSuffix(param, ".vtt")
	}
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipView, c.Param("id"), lang)
	if err != nil {
		return err
	}
	t, err := h.captions.track(ctx, h.clips.db.Reader(), clip.ID, lang)
	if err != nil {
		return err
	}
	version, err := captionVersion(c, t)
	if err != nil {
		return err
	}
	vtt, err := h.captions.readVTT(ctx, clip.ID, lang, version)
	if err != nil {
		return err
	}
	// Edits must show at once: revalidate every time.
	c.Response().Header().Set("Cache-Control", "private, no-cache")
	if !srt {
		return c.Blob(http.StatusOK, "text/vtt; charset=utf-8", vtt)
	}
	tr, err := captions.ParseVTT(bytes.NewReader(vtt), captions.ParseOptions{MaxBytes: int64(len(vtt)) + 1})
	if err != nil {
		return fmt.Errorf("read stored %s captions of clip %s: %w", lang, clip.ID, err)
	}
	var out bytes.Buffer
	if err := captions.WriteSRT(&out, tr.Cues); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.srt"`, lang))
	return c.Blob(http.StatusOK, "application/x-subrip; charset=utf-8", out.Bytes())
}

// uploadCaptions stores an uploaded WebVTT or SubRip file (the raw body, or
// the "file" part of a multipart form) as the language's edited version.
// ?normalize=true repairs overlapping and out-of-order cues instead of
// refusing them.
func (h *Handler) uploadCaptions(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipEdit, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	req := c.Request()
	if req.ContentLength > captions.DefaultMaxCaptionBytes {
		return captionsTooLarge()
	}
	body, err := captionUploadBody(req)
	if err != nil {
		return err
	}
	// A file that is not UTF-8 is refused unless its uploader says it is
	// an old Windows file: guessing would store garbled captions silently.
	strict := true
	switch cs := strings.ToLower(c.QueryParam("charset")); cs {
	case "", "utf-8":
	case "windows-1252":
		strict = false
	default:
		return apperr.Invalid("charset", "choose utf-8 or windows-1252")
	}
	tr, err := captions.ParseCaptions(body, captions.ParseOptions{StrictUTF8: strict})
	if errors.Is(err, captions.ErrNotUTF8) {
		return apperr.Invalid("file", "%s; save it as UTF-8 (most subtitle editors offer it), or add ?charset=windows-1252 if it comes from an old Windows program", strings.TrimPrefix(err.Error(), "parse captions: "))
	}
	if err != nil {
		return captionError(err)
	}
	cues := tr.Cues
	if c.QueryParam("normalize") == "true" {
		cues = captions.Normalize(cues)
	}
	track, err := h.captions.saveEdited(ctx, a, clip, lang, cues)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"track": track})
}

// captionUploadBody returns the caption file of an upload request.
func captionUploadBody(req *http.Request) (io.Reader, error) {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return req.Body, nil
	}
	mr, err := req.MultipartReader()
	if err != nil {
		return nil, apperr.Invalid("file", "the form could not be read: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, apperr.Invalid("file", "attach the caption file as the form field \"file\"")
		}
		if err != nil {
			return nil, apperr.Invalid("file", "the form could not be read: %v", err)
		}
		if part.FormName() == "file" {
			return part, nil
		}
	}
}

func captionsTooLarge() error {
	return apperr.New(apperr.ErrTooLarge, "too_large", fmt.Sprintf("caption files are limited to %d MB; a whole lesson's captions are far smaller, so check that this is a caption file", captions.DefaultMaxCaptionBytes>>20))
}

// captionError turns a caption parse error into one people can fix: every
// problem with its line.
func captionError(err error) error {
	var pe *captions.ParseError
	switch {
	case errors.Is(err, captions.ErrTooLarge):
		return captionsTooLarge()
	case errors.As(err, &pe):
		msgs := make([]string, 0, len(pe.Problems))
		for i, p := range pe.Problems {
			if i == 10 {
				msgs = append(msgs, fmt.Sprintf("and %d more problems", len(pe.Problems)-10+pe.Omitted))
				break
			}
			msgs = append(msgs, p.Error())
		}
		return apperr.New(nil, "invalid_captions", "the caption file has problems: "+strings.Join(msgs, "; "))
	case errors.Is(err, captions.ErrInvalidCaptions):
		return apperr.New(nil, "invalid_captions", err.Error())
	}
	return apperr.New(nil, "invalid_captions", "the caption file could not be read: "+err.Error())
}

// saveEdited validates cues and stores them as the edited version.
func (cs *Captions) saveEdited(ctx context.Context, a accounts.Actor, clip Clip, lang string, cues []captions.Cue) (CaptionTrack, error) {
	if err := checkCues(cues, clip.DurationMS); err != nil {
		return CaptionTrack{}, err
	}
	// What we store must read back: parse the file we are about to write.
	vtt := captions.VTT(cues)
	if _, err := captions.ParseVTT(bytes.NewReader(vtt), captions.ParseOptions{MaxBytes: int64(len(vtt)) + 1}); err != nil {
		return CaptionTrack{}, captionError(err)
	}
	return cs.save(ctx, newVersion{clipID: clip.ID, lang: lang, version: CaptionEdited, cues: cues,
		words: captions.WordsFromCues(cues), by: a.UserID})
}

// checkCues refuses tracks a player or the transcript would get wrong, naming
// the cue (1-based, as editors count): bad times, empty text, cues out of
// order or overlapping, cues after the end of the clip.
func checkCues(cues []captions.Cue, durationMS int64) error {
	if len(cues) == 0 {
		return apperr.New(nil, "invalid_captions", "the captions have no cues")
	}
	if len(cues) > maxCaptionCues {
		return apperr.New(nil, "invalid_captions", fmt.Sprintf("the captions have %d cues; at most %d are allowed", len(cues), maxCaptionCues))
	}
	for i, c := range cues {
		n := i + 1
		switch {
		case c.StartMS < 0:
			return apperr.New(nil, "invalid_captions", fmt.Sprintf("cue %d starts before the clip (%d ms)", n, c.StartMS))
		case c.EndMS <= c.StartMS:
			return apperr.New(nil, "invalid_captions", fmt.Sprintf("cue %d ends at %s, not after it starts (%s)", n, captions.FormatTimestamp(c.EndMS), captions.FormatTimestamp(c.StartMS)))
		case textcheck.Block(c.Text) != "":
			return apperr.New(nil, "invalid_captions", fmt.Sprintf("cue %d (%s) %s", n, captions.FormatTimestamp(c.StartMS), textcheck.Block(c.Text)))
		case strings.TrimSpace(captions.PlainText(c.Text)) == "":
			return apperr.New(nil, "invalid_captions", fmt.Sprintf("cue %d (%s) has no text", n, captions.FormatTimestamp(c.StartMS)))
		case durationMS > 0 && c.StartMS >= durationMS:
			return apperr.New(nil, "invalid_captions", fmt.Sprintf("cue %d starts at %s, after the clip ends (%s); are these the captions of another video?",
				n, captions.FormatTimestamp(c.StartMS), captions.FormatTimestamp(durationMS)))
		}
	}
	if issues := captions.Lint(cues); len(issues) > 0 {
		msg := issues[0].Msg
		if len(issues) > 1 {
			msg += fmt.Sprintf(" (and %d more timing problems)", len(issues)-1)
		}
		code := "overlapping_cues"
		if issues[0].Kind == "out_of_order" {
			code = "cues_out_of_order"
		}
		return apperr.New(nil, code, msg+"; fix the times, or upload with ?normalize=true to trim overlaps and sort the cues")
	}
	return nil
}

// cuesBody is the JSON of an edited track. Cue text is WebVTT cue text
// (escape & and < as &amp; and &lt;; <i>, <b> and <v Name> are allowed).
type cuesBody struct {
	Cues []captions.Cue `json:"cues"`
}

func (h *Handler) getCues(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipView, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	t, err := h.captions.track(ctx, h.clips.db.Reader(), clip.ID, lang)
	if err != nil {
		return err
	}
	version, err := captionVersion(c, t)
	if err != nil {
		return err
	}
	vtt, err := h.captions.readVTT(ctx, clip.ID, lang, version)
	if err != nil {
		return err
	}
	tr, err := captions.ParseVTT(bytes.NewReader(vtt), captions.ParseOptions{MaxBytes: int64(len(vtt)) + 1})
	if err != nil {
		return fmt.Errorf("read stored %s captions of clip %s: %w", lang, clip.ID, err)
	}
	cues := tr.Cues
	if cues == nil {
		cues = []captions.Cue{}
	}
	return c.JSON(http.StatusOK, map[string]any{"lang": lang, "version": version, "track": t, "cues": cues})
}

func (h *Handler) putCues(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipEdit, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	var in cuesBody
	if err := httpx.Bind(c, &in, captions.DefaultMaxCaptionBytes); err != nil {
		return err
	}
	track, err := h.captions.saveEdited(ctx, a, clip, lang, in.Cues)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"track": track})
}

func (h *Handler) revertCaptions(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipEdit, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	track, err := h.captions.revert(ctx, clip.ID, lang)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"track": track})
}

// generateCaptions queues the automatic captions of a clip again: after a
// failure, after the operator installed or changed the speech engine, or
// to replace a poor machine version. An edited version stays current (the
// job never overwrites a person's work); the owner can go back to the new
// machine version.
func (h *Handler) generateCaptions(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, _, err := h.captions.authorize(ctx, a, accounts.ClipEdit, c.Param("id"), "")
	if err != nil {
		return err
	}
	if h.captionJob == nil {
		return apperr.New(apperr.ErrConflict, "captions_unavailable", "automatic captions are not available on this server; you can upload a caption file (WebVTT or SRT)")
	}
	if err := h.captionJob.Requeue(ctx, clip); err != nil {
		return err
	}
	st, err := h.captions.State(ctx, clip.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"captions": st})
}

func (h *Handler) deleteCaptions(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipEdit, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	if err := h.captions.remove(ctx, clip.ID, lang); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// getTranscript returns the word-level transcript of a track's current (or
// ?version=) version, for click-to-seek and the transcript panel.
func (h *Handler) getTranscript(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clip, lang, err := h.captions.authorize(ctx, a, accounts.ClipView, c.Param("id"), c.Param("lang"))
	if err != nil {
		return err
	}
	t, err := h.captions.track(ctx, h.clips.db.Reader(), clip.ID, lang)
	if err != nil {
		return err
	}
	version, err := captionVersion(c, t)
	if err != nil {
		return err
	}
	tr, err := h.captions.transcript(ctx, h.clips.db.Reader(), clip.ID, lang, version)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"version": version, "transcript": tr})
}

func (h *Handler) searchTranscripts(c echo.Context) error {
	a, err := accounts.RequireActor(c)
	if err != nil {
		return err
	}
	limit, offset := 0, 0
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return apperr.Invalid("limit", "use a number from 1 to %d", maxSearchLimit)
		}
	}
	if v := c.QueryParam("offset"); v != "" {
		if offset, err = strconv.Atoi(v); err != nil {
			return apperr.Invalid("offset", "use a number from 0 to %d", maxSearchOffset)
		}
	}
	page, err := h.captions.SearchTranscripts(c.Request().Context(), a, c.QueryParam("q"), limit, offset)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}
