package annotations

import (
	"bytes"
	"context"
	"embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// RubricFormat names the JSON exchange format of rubrics.
const RubricFormat = "filmroom.rubric/1"

// RubricDocument is the JSON a rubric is exported as and imported from.
// On import, id, version and slug are ignored: an import always creates a
// new rubric.
type RubricDocument struct {
	Format  string `json:"format"`
	ID      string `json:"id,omitempty"`
	Version int    `json:"version,omitempty"`
	Slug    string `json:"slug,omitempty"`
	RubricContent
}

// ExportRubricJSON writes the rubric as a RubricDocument.
func ExportRubricJSON(w io.Writer, r *Rubric) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(RubricDocument{Format: RubricFormat, ID: r.ID, Version: r.Version, Slug: r.Slug, RubricContent: r.RubricContent})
}

// rubricCSVHeader is the CSV layout: one row per level (a criterion
// without levels has one row with empty level columns). Rubric and domain
// columns repeat on every row; the first row's rubric title wins.
var rubricCSVHeader = []string{"rubric_title", "rubric_description", "domain_key", "domain_title", "domain_description",
	"criterion_key", "criterion_title", "criterion_description", "level_key", "level_label", "level_score", "level_descriptor"}

// ExportRubricCSV writes the rubric as CSV.
func ExportRubricCSV(w io.Writer, r *Rubric) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(rubricCSVHeader); err != nil {
		return err
	}
	for _, d := range r.Domains {
		for _, c := range d.Criteria {
			base := []string{r.Title, r.Description, d.Key, d.Title, d.Description, c.Key, c.Title, c.Description}
			if len(c.Levels) == 0 {
				if err := cw.Write(append(base, "", "", "", "")); err != nil {
					return err
				}
			}
			for _, l := range c.Levels {
				row := append(append([]string{}, base...), l.Key, l.Label, strconv.Itoa(l.Score), l.Descriptor)
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// ParseRubricJSON reads a RubricDocument; errors name the line and column
// or the JSON path of the problem.
func ParseRubricJSON(data []byte) (RubricContent, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc RubricDocument
	if err := dec.Decode(&doc); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			line, col := lineCol(data, syn.Offset)
			return RubricContent{}, apperr.New(nil, "invalid_import", fmt.Sprintf("line %d, column %d: %s", line, col, syn.Error()))
		case errors.As(err, &typ):
			line, col := lineCol(data, typ.Offset)
			return RubricContent{}, apperr.New(nil, "invalid_import", fmt.Sprintf("line %d, column %d: %s must be a %s", line, col, typ.Field, typ.Type))
		default:
			return RubricContent{}, apperr.New(nil, "invalid_import", "the rubric file is not a filmroom rubric: "+err.Error())
		}
	}
	if err := nothingAfter(data, dec); err != nil {
		return RubricContent{}, err
	}
	if doc.Format != "" && doc.Format != RubricFormat {
		return RubricContent{}, apperr.New(nil, "invalid_import", fmt.Sprintf("format: %q is not %q", doc.Format, RubricFormat))
	}
	c := doc.RubricContent
	if err := normalizeRubric(&c); err != nil {
		return RubricContent{}, err
	}
	return c, nil
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// ParseRubricCSV reads the CSV layout of ExportRubricCSV; errors name the
// line.
func ParseRubricCSV(data []byte) (RubricContent, error) {
	bad := func(line int, format string, args ...any) error {
		return apperr.New(nil, "invalid_import", fmt.Sprintf("line %d: ", line)+fmt.Sprintf(format, args...))
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = len(rubricCSVHeader)
	header, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return RubricContent{}, bad(pe.Line, "%v", pe.Err)
		}
		return RubricContent{}, bad(1, "the file is empty; the first line must be the header %s", strings.Join(rubricCSVHeader, ","))
	}
	for i, h := range rubricCSVHeader {
		if strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")) != h {
			return RubricContent{}, bad(1, "column %d must be %q (header: %s)", i+1, h, strings.Join(rubricCSVHeader, ","))
		}
	}
	var c RubricContent
	domainAt := map[string]int{}
	critAt := map[string][2]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return RubricContent{}, bad(pe.Line, "%v", pe.Err)
			}
			return RubricContent{}, apperr.New(nil, "invalid_import", "read CSV: "+err.Error())
		}
		line, _ := cr.FieldPos(0)
		if c.Title == "" {
			c.Title, c.Description = rec[0], rec[1]
		}
		dk, ck := strings.TrimSpace(rec[2]), strings.TrimSpace(rec[5])
		if dk == "" {
			dk = slugify(rec[3])
		}
		if ck == "" {
			ck = slugify(rec[6])
		}
		di, ok := domainAt[dk]
		if !ok {
			di = len(c.Domains)
			domainAt[dk] = di
			c.Domains = append(c.Domains, Domain{Key: dk, Title: rec[3], Description: rec[4]})
		}
		pos, ok := critAt[ck]
		if !ok {
			pos = [2]int{di, len(c.Domains[di].Criteria)}
			critAt[ck] = pos
			c.Domains[di].Criteria = append(c.Domains[di].Criteria, Criterion{Key: ck, Title: rec[6], Description: rec[7]})
		} else if pos[0] != di {
			return RubricContent{}, bad(line, "criterion_key %q already appears under another domain", ck)
		}
		if rec[8] == "" && rec[9] == "" && rec[10] == "" {
			continue
		}
		score, err := strconv.Atoi(strings.TrimSpace(rec[10]))
		if err != nil {
			return RubricContent{}, bad(line, "level_score %q must be a whole number", rec[10])
		}
		crit := &c.Domains[pos[0]].Criteria[pos[1]]
		crit.Levels = append(crit.Levels, Level{Key: strings.TrimSpace(rec[8]), Label: rec[9], Score: score, Descriptor: rec[11]})
	}
	if len(c.Domains) == 0 {
		return RubricContent{}, bad(2, "the file has a header but no rows")
	}
	if err := normalizeRubric(&c); err != nil {
		return RubricContent{}, err
	}
	return c, nil
}

// ImportRubric creates a rubric from an exported JSON or CSV file.
func (s *Service) ImportRubric(ctx context.Context, a accounts.Actor, groupID, format string, data []byte) (*Rubric, error) {
	var c RubricContent
	var err error
	switch format {
	case "json":
		c, err = ParseRubricJSON(data)
	case "csv":
		c, err = ParseRubricCSV(data)
	default:
		return nil, apperr.Invalid("format", "must be json or csv")
	}
	if err != nil {
		return nil, err
	}
	return s.CreateRubric(ctx, a, RubricInput{GroupID: groupID, RubricContent: c})
}

//go:embed starter
var starterFS embed.FS

// StarterRubrics returns the rubrics filmroom ships with, keyed by slug.
// They were written for filmroom; they are starting points that a site's
// administrators edit into their own.
func StarterRubrics() (map[string]RubricContent, error) {
	entries, err := starterFS.ReadDir("starter")
	if err != nil {
		return nil, fmt.Errorf("read starter rubrics: %w", err)
	}
	out := map[string]RubricContent{}
	for _, e := range entries {
		data, err := starterFS.ReadFile("starter/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read starter rubric %s: %w", e.Name(), err)
		}
		c, err := ParseRubricJSON(data)
		if err != nil {
			return nil, fmt.Errorf("starter rubric %s: %w", e.Name(), err)
		}
		out[strings.TrimSuffix(e.Name(), ".json")] = c
	}
	return out, nil
}

// SeedStarterRubrics adds the starter rubrics as site rubrics unless a
// rubric with the same slug exists (so it is safe on every start, on any
// number of nodes at once, and never undoes an administrator's edits).
func (s *Service) SeedStarterRubrics(ctx context.Context) error {
	starters, err := StarterRubrics()
	if err != nil {
		return err
	}
	for slug, c := range starters {
		var n int
		if err := s.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM rubrics WHERE slug = ?`, slug).Scan(&n); err != nil {
			return fmt.Errorf("seed rubric %s: %w", slug, err)
		}
		if n > 0 {
			continue
		}
		err := s.db.Tx(ctx, func(q sqldb.Q) error {
			return s.insertRubric(ctx, q, id.New(), slug, "", "", c)
		})
		if sqldb.IsUniqueViolation(err) {
			continue // another node seeded it first
		}
		if err != nil {
			return fmt.Errorf("seed rubric %s: %w", slug, err)
		}
		s.log.Info("Seeded starter rubric.", "rubric_slug", slug)
	}
	return nil
}
