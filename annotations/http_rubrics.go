// HTTP handlers of rubrics: list, create, import, edit, archive and export.

package annotations

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/labstack/echo/v4"
)

func (h *Handler) listRubrics(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	rs, err := h.S.ListRubrics(c.Request().Context(), a, c.QueryParam("archived") == "true")
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rs})
}

func (h *Handler) createRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in RubricInput
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := h.S.CreateRubric(c.Request().Context(), a, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (h *Handler) importRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	format := c.QueryParam("format")
	if format == "" {
		format = "json"
		if strings.HasPrefix(c.Request().Header.Get("Content-Type"), "text/csv") {
			format = "csv"
		}
	}
	body, err := readBody(c, maxJSON)
	if err != nil {
		return err
	}
	r, err := h.S.ImportRubric(c.Request().Context(), a, c.QueryParam("group_id"), format, body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func rubricVersionParam(c echo.Context) (int, error) {
	v := c.QueryParam("version")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, apperr.Invalid("version", "must be a positive number")
	}
	return n, nil
}

func (h *Handler) getRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := rubricVersionParam(c)
	if err != nil {
		return err
	}
	r, err := h.S.GetRubric(c.Request().Context(), a, c.Param("rid"), v, c.QueryParam("clip_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (h *Handler) updateRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	var in RubricContent
	if err := bind(c, &in); err != nil {
		return err
	}
	r, err := h.S.UpdateRubric(c.Request().Context(), a, c.Param("rid"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (h *Handler) archiveRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	r, err := h.S.ArchiveRubric(c.Request().Context(), a, c.Param("rid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (h *Handler) exportRubric(c echo.Context) error {
	a, err := actor(c)
	if err != nil {
		return err
	}
	v, err := rubricVersionParam(c)
	if err != nil {
		return err
	}
	r, err := h.S.GetRubric(c.Request().Context(), a, c.Param("rid"), v, c.QueryParam("clip_id"))
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	name := "rubric-" + r.ID + "-v" + strconv.Itoa(r.Version)
	switch c.QueryParam("format") {
	case "", "json":
		if err := ExportRubricJSON(&buf, r); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.json"`)
		return c.Blob(http.StatusOK, "application/json", buf.Bytes())
	case "csv":
		if err := ExportRubricCSV(&buf, r); err != nil {
			return err
		}
		c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
	return apperr.Invalid("format", "must be json or csv")
}
