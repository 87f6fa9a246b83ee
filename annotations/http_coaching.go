// HTTP handlers of coaching: summaries, growth, annotation export and import, reflections and goals.

package annotations

import (
	"bytes"
	"net/http"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/labstack/echo/v4"
)

func (h *Handler) summary(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	if pretty(c) {
		s, err := h.S.Summarize(c.Request().Context(), a, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, s)
	}
	v, err := h.S.SummaryView(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return sendView(c, v)
}

func (h *Handler) growth(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	g, err := h.S.Growth(c.Request().Context(), a, c.Param("uid"), c.QueryParam("bucket"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (h *Handler) export(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	eq := ExportQuery{Criteria: queryList(c, "criteria"), Authors: queryList(c, "authors"), Kinds: queryList(c, "kinds")}
	ctx := c.Request().Context()
	clipID := c.Param("id")
	var buf bytes.Buffer
	var clip ClipInfo
	var ctype, kind, ext string
	format := c.QueryParam("format")
	switch format {
	case "csv":
		clip, err = h.S.exportCSV(ctx, a, clipID, eq, &buf)
		ctype, kind, ext = "text/csv; charset=utf-8", "feedback", "csv"
	case "vtt":
		track := c.QueryParam("track")
		clip, err = h.S.exportVTT(ctx, a, clipID, eq, track, &buf)
		ctype, kind, ext = "text/vtt; charset=utf-8", "feedback", "vtt"
		if track == "chapters" { // both tracks are .vtt: the names must differ
			kind = "chapters"
		}
	case "jsonld", "":
		clip, err = h.S.exportWebAnnotations(ctx, a, clipID, eq, &buf)
		ctype, kind, ext = `application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"`, "feedback", "jsonld"
	case "report":
		clip, err = h.S.exportReport(ctx, a, clipID, eq, &buf)
		ctype, kind, ext = "text/html; charset=utf-8", "report", "html"
	default:
		return apperr.Invalid("format", "must be csv, vtt, jsonld or report")
	}
	if err != nil {
		return err
	}
	hdr := c.Response().Header()
	disposition := "attachment"
	if format == "report" {
		// The report opens in the browser to be printed; its name is for
		// saving it. Its Print button needs its one script allowed.
		disposition = "inline"
		hdr.Set("Content-Security-Policy", reportPolicy(hdr.Get("Content-Security-Policy")))
	}
	hdr.Set("Content-Disposition", contentDisposition(disposition, exportFilename(clip, kind, ext)))
	hdr.Set("X-Content-Type-Options", "nosniff")
	return c.Blob(http.StatusOK, ctype, buf.Bytes())
}

func (h *Handler) importAnnotations(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	body, err := readBody(c, maxImport)
	if err != nil {
		return err
	}
	res, err := h.S.ImportWebAnnotations(c.Request().Context(), a, c.Param("id"), body, c.QueryParam("visibility"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, res)
}

func (h *Handler) getReflection(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	r, err := h.S.ReflectionView(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reflection": r, "prompts": ReflectionPrompts})
}

func (h *Handler) putReflection(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in ReflectionInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := h.S.SaveReflection(c.Request().Context(), a, c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reflection": r, "prompts": ReflectionPrompts})
}

func (h *Handler) submitReflection(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	r, err := h.S.SubmitReflection(c.Request().Context(), a, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"reflection": r, "prompts": ReflectionPrompts})
}

func (h *Handler) listGoals(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	gs, err := h.S.ListGoals(c.Request().Context(), a, c.QueryParam("user_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": gs})
}

func (h *Handler) createGoal(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in GoalInput
	if err := bind(c, &in); err != nil {
		return err
	}
	g, err := h.S.CreateGoal(c.Request().Context(), a, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, g)
}

func (h *Handler) getGoal(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	g, err := h.S.GetGoal(c.Request().Context(), a, c.Param("gid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func (h *Handler) updateGoal(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var p GoalPatch
	if err := bind(c, &p); err != nil {
		return err
	}
	g, err := h.S.UpdateGoal(c.Request().Context(), a, c.Param("gid"), p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}
