package annotations

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// ExportQuery picks what an export holds; empty lists mean "all".
type ExportQuery struct {
	Criteria []string
	Authors  []string
	Kinds    []string
}

// maxExport bounds one export (a clip with more annotations than this is
// exported in part; the HTTP layer says so in a header).
const maxExport = 100000

// exportItems returns the annotations the actor may see, in the documented
// export order: start_ms, end_ms (moments before ranges), created_at, id.
func (s *Service) exportItems(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery) (ClipInfo, []Annotation, error) {
	if err := requireActor(a); err != nil {
		return ClipInfo{}, nil, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return clip, nil, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return clip, nil, err
	}
	vw, va := visibilityWhere(a, hidden)
	query := `SELECT ` + annotationCols + annotationFrom + ` WHERE a.clip_id = ? AND a.deleted_at IS NULL` + vw
	args := append([]any{clipID}, va...)
	bad := false
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		for _, v := range vals {
			bad = bad || !utf8.ValidString(v) || strings.ContainsRune(v, 0)
		}
		query += ` AND ` + col + ` IN (` + sqldb.In(len(vals)) + `)`
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("a.criterion_key", eq.Criteria)
	in("a.author_id", eq.Authors)
	in("a.kind", eq.Kinds)
	if bad {
		return clip, nil, apperr.Invalid("criteria", "criteria, authors and kinds must be valid UTF-8 text")
	}
	// COALESCE: SQLite sorts NULL first and PostgreSQL last; -1 makes
	// moments (no end) come first on both.
	query += ` ORDER BY a.start_ms, COALESCE(a.end_ms, -1), a.created_at, a.id LIMIT ?`
	args = append(args, maxExport)
	rows, err := s.db.Reader().Query(ctx, query, args...)
	if err != nil {
		return clip, nil, fmt.Errorf("export annotations of clip %s: %w", clipID, err)
	}
	defer rows.Close()
	out := []Annotation{}
	for rows.Next() {
		ann, err := scanAnnotation(rows)
		if err != nil {
			return clip, nil, fmt.Errorf("export annotations of clip %s: %w", clipID, err)
		}
		out = append(out, ann)
	}
	if err := rows.Err(); err != nil {
		return clip, nil, fmt.Errorf("export annotations of clip %s: %w", clipID, err)
	}
	if hidden {
		err = s.ownReplyCounts(ctx, a, out)
	}
	return clip, out, err
}

// maxFileSlug bounds the title part of an export's file name: titles may be
// long, file names should stay readable in a downloads folder.
const maxFileSlug = 60

// exportFilename names an export after its clip and what it holds, e.g.
// "fractions-lesson-chapters.vtt": readable, and distinct for the exports
// of one clip, which sort together. The clip ID stands in for a title
// with no ASCII letters or digits.
func exportFilename(clip ClipInfo, kind, ext string) string {
	base := fileSlug(clip.Title)
	if base == "" {
		base = fileSlug(clip.ID)
	}
	if base == "" {
		base = "clip"
	}
	return base + "-" + kind + "." + ext
}

// fileSlug keeps the ASCII letters and digits of s, lowercased, with one
// dash for each run of anything else. Accented letters lose their accents
// first ("Leçon" → "lecon"), so names in most Latin scripts survive. Only
// these characters are left, so the name needs no quoting or encoding in
// Content-Disposition and is valid on every file system.
func fileSlug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r - 'A' + 'a')
			dash = false
		case r >= 0x300 && r <= 0x36f: // combining accents left by NFKD
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= maxFileSlug {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// contentDisposition is a Content-Disposition value (RFC 6266) for a name
// made by exportFilename, which needs neither escaping nor filename*.
func contentDisposition(disposition, name string) string {
	return disposition + `; filename="` + name + `"`
}

// clockTime formats milliseconds as WebVTT's hh:mm:ss.mmm.
func clockTime(ms int64) string {
	h := ms / 3600000
	m := ms / 60000 % 60
	sec := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d.%03d", h, m, sec, ms%1000)
}

// seconds formats milliseconds as seconds with at most three decimals,
// the way Media Fragments write times ("12.5").
func seconds(ms int64) string {
	s := strconv.FormatInt(ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%03d", frac), "0")
	}
	return s
}

// CSVHeader lists the columns of the CSV export.
var CSVHeader = []string{"id", "start_ms", "end_ms", "start", "end", "author_id", "author_name", "kind", "visibility",
	"rubric_id", "rubric_version", "criterion", "criterion_title", "level", "level_label", "level_score",
	"tags", "region_x", "region_y", "region_w", "region_h", "body", "reply_count", "created_at", "updated_at"}

// ExportCSV writes the clip's annotations as CSV (tags joined by ";").
func (s *Service) ExportCSV(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) error {
	_, err := s.exportCSV(ctx, a, clipID, eq, w)
	return err
}

// exportCSV is ExportCSV that also returns the clip, which names the file.
func (s *Service) exportCSV(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) (ClipInfo, error) {
	clip, items, err := s.exportItems(ctx, a, clipID, eq)
	if err != nil {
		return clip, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return clip, fmt.Errorf("write CSV export of clip %s: %w", clipID, err)
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, ann := range items {
		end, endClock := "", ""
		if ann.EndMS != nil {
			end, endClock = strconv.FormatInt(*ann.EndMS, 10), clockTime(*ann.EndMS)
		}
		ver, score := "", ""
		if ann.RubricVersion > 0 {
			ver = strconv.Itoa(ann.RubricVersion)
		}
		if ann.LevelScore != nil {
			score = strconv.Itoa(*ann.LevelScore)
		}
		rx, ry, rw, rh := "", "", "", ""
		if r := ann.Region; r != nil {
			rx, ry, rw, rh = f(r.X), f(r.Y), f(r.W), f(r.H)
		}
		row := []string{ann.ID, strconv.FormatInt(ann.StartMS, 10), end, clockTime(ann.StartMS), endClock,
			ann.Author.ID, csvSafe(ann.Author.Name), ann.Kind, ann.Visibility, ann.RubricID, ver, ann.Criterion,
			csvSafe(ann.CriterionTitle), ann.Level, csvSafe(ann.LevelLabel), score, csvSafe(strings.Join(ann.Tags, ";")),
			rx, ry, rw, rh, csvSafe(ann.Body), strconv.Itoa(ann.ReplyCount),
			ann.CreatedAt.Format(time.RFC3339Nano), ann.UpdatedAt.Format(time.RFC3339Nano)}
		if err := cw.Write(row); err != nil {
			return clip, fmt.Errorf("write CSV export of clip %s: %w", clipID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return clip, fmt.Errorf("write CSV export of clip %s: %w", clipID, err)
	}
	return clip, nil
}

// csvSafe defuses spreadsheet formulas: a cell a person wrote that starts
// with = + - @ gets a leading apostrophe, so opening the export in a
// spreadsheet never runs it.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// vttText makes text safe inside a WebVTT cue: no blank lines, no "-->",
// and &, < and > escaped.
func vttText(s string) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "").Replace(s)
	lines := strings.Fields(strings.ReplaceAll(s, "\n", " \n "))
	return strings.TrimSpace(strings.Join(lines, " "))
}

func cueEnd(ann Annotation, duration int64) int64 {
	if ann.EndMS != nil {
		return *ann.EndMS
	}
	// A moment shows for one second (less at the very end of the clip).
	end := ann.StartMS + 1000
	if duration > ann.StartMS && end > duration {
		end = duration
	}
	return end
}

// ExportVTT writes a WebVTT track: "metadata" (one cue per annotation with
// a JSON payload, for players and tools) or "chapters" (one chapter per
// annotation start, titled with its kind, criterion and first words).
func (s *Service) ExportVTT(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, track string, w io.Writer) error {
	_, err := s.exportVTT(ctx, a, clipID, eq, track, w)
	return err
}

// exportVTT is ExportVTT that also returns the clip, which names the file.
func (s *Service) exportVTT(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, track string, w io.Writer) (ClipInfo, error) {
	clip, items, err := s.exportItems(ctx, a, clipID, eq)
	if err != nil {
		return clip, err
	}
	var b strings.Builder
	b.WriteString("WEBVTT - " + vttText(clip.Title) + "\n\n")
	switch track {
	case "", "metadata":
		for _, ann := range items {
			payload, _ := json.Marshal(map[string]any{ // json.Marshal escapes < and >, so no "-->"
				"id": ann.ID, "kind": ann.Kind, "author": ann.Author.Name, "criterion": ann.Criterion,
				"criterion_title": ann.CriterionTitle, "level": ann.Level, "level_label": ann.LevelLabel,
				"tags": ann.Tags, "region": ann.Region, "body": ann.Body,
			})
			fmt.Fprintf(&b, "%s\n%s --> %s\n%s\n\n", ann.ID, clockTime(ann.StartMS), clockTime(cueEnd(ann, clip.DurationMS)), payload)
		}
	case "chapters":
		for i := 0; i < len(items); {
			start := items[i].StartMS
			var titles []string
			j := i
			for ; j < len(items) && items[j].StartMS == start; j++ {
				titles = append(titles, chapterTitle(items[j]))
			}
			end := cueEnd(items[j-1], clip.DurationMS)
			if j < len(items) {
				end = items[j].StartMS
			} else if clip.DurationMS > start {
				end = clip.DurationMS
			}
			fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, clockTime(start), clockTime(end), vttText(strings.Join(titles, " · ")))
			i = j
		}
	default:
		return clip, fmt.Errorf("track %q: %w", track, errBadTrack)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return clip, fmt.Errorf("write WebVTT export of clip %s: %w", clipID, err)
	}
	return clip, nil
}

func chapterTitle(ann Annotation) string {
	t := strings.ToUpper(ann.Kind[:1]) + ann.Kind[1:]
	if ann.CriterionTitle != "" {
		t += ": " + ann.CriterionTitle
		if ann.LevelLabel != "" {
			t += " (" + ann.LevelLabel + ")"
		}
	}
	// Players show chapter titles as plain text, so the Markdown markers
	// go before the title is cut to its first words.
	body := strings.Join(strings.Fields(PlainText(ann.Body)), " ")
	if r := []rune(body); len(r) > 60 {
		body = string(r[:60]) + "…"
	}
	if body != "" {
		t += " — " + body
	}
	return t
}
