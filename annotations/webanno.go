package annotations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

var errBadTrack = apperr.Invalid("track", "must be metadata or chapters")

// W3C Web Annotation Data Model constants.
const (
	AnnoContext     = "http://www.w3.org/ns/anno.jsonld"
	MediaFragsSpec  = "http://www.w3.org/TR/media-frags/"
	maxImportItems  = 5000
	maxImportErrors = 20
)

// The Web Annotation mapping, documented in docs/api-annotations.md:
//
//	annotation            → Annotation, id urn:filmroom:annotation:<id>
//	start_ms, end_ms      → target.selector FragmentSelector "t=12.5,20" (a moment: "t=12.5")
//	region                → the same selector, "&xywh=percent:x,y,w,h"
//	body                  → TextualBody purpose "commenting", format text/markdown
//	tags                  → one TextualBody purpose "tagging" each
//	kind                  → TextualBody purpose "classifying", and the motivation
//	criterion, level      → TextualBody purpose "assessing" whose id is
//	                        urn:filmroom:rubric:<rubric>:<version>:<criterion>[:<level>]
//	author, times         → creator, created, modified (import keeps neither:
//	                        the importer becomes the author, now the time)

type ldPage struct {
	Context    string         `json:"@context"`
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	PartOf     ldCollection   `json:"partOf"`
	StartIndex int            `json:"startIndex"`
	Items      []ldAnnotation `json:"items"`
}

type ldCollection struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Label string `json:"label"`
	Total int    `json:"total"`
}

type ldAnnotation struct {
	ID         string   `json:"id"`
	Type       string   `json:"type"`
	Motivation string   `json:"motivation"`
	Creator    ldAgent  `json:"creator"`
	Created    string   `json:"created"`
	Modified   string   `json:"modified"`
	Body       []ldBody `json:"body"`
	Target     ldTarget `json:"target"`
}

type ldAgent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
}

type ldBody struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type"`
	Purpose string `json:"purpose"`
	Value   string `json:"value"`
	Format  string `json:"format,omitempty"`
}

type ldTarget struct {
	Source   string     `json:"source"`
	Type     string     `json:"type"`
	Selector ldSelector `json:"selector"`
}

type ldSelector struct {
	Type       string `json:"type"`
	ConformsTo string `json:"conformsTo"`
	Value      string `json:"value"`
}

func clipURN(id string) string { return "urn:filmroom:clip:" + id }

func motivationOf(kind string) string {
	switch kind {
	case KindQuestion:
		return "questioning"
	case KindStrength, KindSuggestion:
		return "assessing"
	}
	return "commenting"
}

// percent writes a normalized coordinate as a percentage with at most four
// decimals (regions are stored to 1e-6, so this is exact).
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*1e6)/1e4, 'f', -1, 64)
}

func fragment(ann Annotation) string {
	v := "t=" + seconds(ann.StartMS)
	if ann.EndMS != nil {
		v += "," + seconds(*ann.EndMS)
	}
	if r := ann.Region; r != nil {
		v += "&xywh=percent:" + percent(r.X) + "," + percent(r.Y) + "," + percent(r.W) + "," + percent(r.H)
	}
	return v
}

// ExportWebAnnotations writes the clip's annotations as a W3C Web
// Annotation AnnotationPage (JSON-LD).
func (s *Service) ExportWebAnnotations(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) error {
	_, err := s.exportWebAnnotations(ctx, a, clipID, eq, w)
	return err
}

// exportWebAnnotations is ExportWebAnnotations that also returns the clip,
// which names the file.
func (s *Service) exportWebAnnotations(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) (ClipInfo, error) {
	clip, items, err := s.exportItems(ctx, a, clipID, eq)
	if err != nil {
		return clip, err
	}
	page := ldPage{Context: AnnoContext, ID: clipURN(clipID) + ":annotations:page1", Type: "AnnotationPage",
		PartOf: ldCollection{ID: clipURN(clipID) + ":annotations", Type: "AnnotationCollection", Label: clip.Title, Total: len(items)},
		Items:  make([]ldAnnotation, 0, len(items))}
	for _, ann := range items {
		la := ldAnnotation{ID: "urn:filmroom:annotation:" + ann.ID, Type: "Annotation", Motivation: motivationOf(ann.Kind),
			Creator:  ldAgent{ID: "urn:filmroom:user:" + ann.Author.ID, Type: "Person", Name: ann.Author.Name},
			Created:  ann.CreatedAt.Format(time.RFC3339Nano),
			Modified: ann.UpdatedAt.Format(time.RFC3339Nano),
			Body:     []ldBody{{Type: "TextualBody", Purpose: "commenting", Value: ann.Body, Format: "text/markdown"}},
			Target: ldTarget{Source: clipURN(clipID), Type: "Video",
				Selector: ldSelector{Type: "FragmentSelector", ConformsTo: MediaFragsSpec, Value: fragment(ann)}}}
		la.Body = append(la.Body, ldBody{Type: "TextualBody", Purpose: "classifying", Value: ann.Kind})
		for _, t := range ann.Tags {
			la.Body = append(la.Body, ldBody{Type: "TextualBody", Purpose: "tagging", Value: t})
		}
		if ann.Criterion != "" {
			urn := fmt.Sprintf("urn:filmroom:rubric:%s:%d:%s", ann.RubricID, ann.RubricVersion, ann.Criterion)
			value := ann.CriterionTitle
			if ann.Level != "" {
				urn += ":" + ann.Level
				value += ": " + ann.LevelLabel
				if ann.LevelScore != nil {
					value += fmt.Sprintf(" (%d)", *ann.LevelScore)
				}
			}
			la.Body = append(la.Body, ldBody{ID: urn, Type: "TextualBody", Purpose: "assessing", Value: value})
		}
		page.Items = append(page.Items, la)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // keep "&" in "t=1,2&xywh=…" readable
	if err := enc.Encode(page); err != nil {
		return clip, fmt.Errorf("write Web Annotation export of clip %s: %w", clipID, err)
	}
	return clip, nil
}

// ImportResult reports an import.
type ImportResult struct {
	Imported int          `json:"imported"`
	Items    []Annotation `json:"items"`
}

// importErrs collects problems keyed by JSON path.
type importErrs struct{ v apperr.Validation }

func (e *importErrs) add(path, format string, args ...any) {
	if len(e.v.Fields) < maxImportErrors {
		e.v.Add(path, format, args...)
	}
}

// ParseWebAnnotations reads an AnnotationPage, an AnnotationCollection
// with "first", a bare array of annotations or a single annotation into
// inputs. Errors name the JSON path of the problem, e.g.
// "items[3].target.selector.value".
func ParseWebAnnotations(data []byte) ([]AnnotationInput, error) {
	if !utf8.Valid(data) {
		return nil, apperr.New(nil, "invalid_import", "the file is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			line, col := lineCol(data, se.Offset)
			return nil, apperr.New(nil, "invalid_import", fmt.Sprintf("line %d, column %d: %s", line, col, se.Error()))
		}
		return nil, apperr.New(nil, "invalid_import", "the file is not JSON: "+err.Error())
	}
	if err := nothingAfter(data, dec); err != nil {
		return nil, err
	}
	errs := &importErrs{}
	var items []any
	base := "items"
	switch r := root.(type) {
	case []any:
		items, base = r, ""
	case map[string]any:
		switch {
		case r["items"] != nil:
			arr, ok := r["items"].([]any)
			if !ok {
				return nil, apperr.Invalid("items", "must be an array of annotations")
			}
			items = arr
		case r["first"] != nil:
			first, ok := r["first"].(map[string]any)
			arr, ok2 := first["items"].([]any)
			if !ok || !ok2 {
				return nil, apperr.Invalid("first.items", "must be an array of annotations")
			}
			items, base = arr, "first.items"
		case r["type"] == "Annotation":
			items, base = []any{r}, "$"
		default:
			return nil, apperr.Invalid("items", "is missing: expected an AnnotationPage with items")
		}
	default:
		return nil, apperr.Invalid("$", "must be an AnnotationPage object or an array of annotations")
	}
	if len(items) > maxImportItems {
		return nil, apperr.Invalid(base, "has %d annotations; import at most %d at a time", len(items), maxImportItems)
	}
	out := make([]AnnotationInput, 0, len(items))
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", base, i)
		if base == "$" {
			p = "$"
		} else if base == "" {
			p = fmt.Sprintf("[%d]", i)
		}
		in, ok := parseLDAnnotation(errs, p, it)
		if ok {
			out = append(out, in)
		}
	}
	if err := errs.v.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func parseLDAnnotation(errs *importErrs, p string, it any) (AnnotationInput, bool) {
	var in AnnotationInput
	m, ok := it.(map[string]any)
	if !ok {
		errs.add(p, "must be an annotation object")
		return in, false
	}
	n := len(errs.v.Fields)
	if t, _ := m["type"].(string); t != "Annotation" {
		errs.add(p+".type", "must be \"Annotation\"")
	}
	// Target: an object with a selector, or a string with a #t= fragment.
	switch t := m["target"].(type) {
	case string:
		_, frag, ok := strings.Cut(t, "#")
		if !ok {
			errs.add(p+".target", "a target given as a string needs a media fragment, like \"…#t=12.5,20\"")
		} else {
			parseFragment(errs, p+".target", frag, &in)
		}
	case map[string]any:
		sp := p + ".target.selector"
		switch sel := t["selector"].(type) {
		case map[string]any:
			parseSelector(errs, sp, sel, &in)
		case []any:
			found := false
			for k, x := range sel {
				if sm, ok := x.(map[string]any); ok && sm["type"] == "FragmentSelector" {
					parseSelector(errs, fmt.Sprintf("%s[%d]", sp, k), sm, &in)
					found = true
					break
				}
			}
			if !found {
				errs.add(sp, "needs a FragmentSelector")
			}
		case nil:
			if src, _ := t["source"].(string); strings.Contains(src, "#") {
				_, frag, _ := strings.Cut(src, "#")
				parseFragment(errs, p+".target.source", frag, &in)
			} else {
				errs.add(sp, "is missing: a FragmentSelector with a value like \"t=12.5,20\" is required")
			}
		default:
			errs.add(sp, "must be a selector object")
		}
	case nil:
		errs.add(p+".target", "is required")
	default:
		errs.add(p+".target", "must be an object or a string")
	}
	// Bodies.
	var bodies []any
	bp := p + ".body"
	switch b := m["body"].(type) {
	case nil:
	case []any:
		bodies = b
	case map[string]any:
		bodies, bp = []any{b}, p+".body#"
	case string:
		errs.add(bp, "an external body (a URL) cannot be imported; use a TextualBody")
	default:
		errs.add(bp, "must be a TextualBody object or an array of them")
	}
	if bv, ok := m["bodyValue"]; ok {
		s, ok := bv.(string)
		if !ok {
			errs.add(p+".bodyValue", "must be a string")
		}
		in.Body = s
	}
	var texts []string
	for k, x := range bodies {
		kp := fmt.Sprintf("%s[%d]", bp, k)
		if bp == p+".body#" {
			kp = p + ".body"
		}
		bm, ok := x.(map[string]any)
		if !ok {
			errs.add(kp, "must be a TextualBody object")
			continue
		}
		value, ok := bm["value"].(string)
		if !ok {
			errs.add(kp+".value", "must be a string")
			continue
		}
		purpose, _ := bm["purpose"].(string)
		switch purpose {
		case "", "commenting", "describing", "replying":
			texts = append(texts, value)
		case "tagging":
			in.Tags = append(in.Tags, value)
		case "classifying":
			switch value {
			case KindStrength, KindSuggestion, KindQuestion, KindNote:
				in.Kind = value
			default:
				errs.add(kp+".value", "%q is not a kind (strength, suggestion, question, note)", value)
			}
		case "assessing":
			idv, _ := bm["id"].(string)
			if idv == "" {
				continue // an assessment from another tool: no criterion to map it to
			}
			parts := strings.Split(strings.TrimPrefix(idv, "urn:filmroom:rubric:"), ":")
			if !strings.HasPrefix(idv, "urn:filmroom:rubric:") || len(parts) < 3 || len(parts) > 4 {
				errs.add(kp+".id", "must look like urn:filmroom:rubric:<rubric>:<version>:<criterion>[:<level>]")
				continue
			}
			ver, err := strconv.Atoi(parts[1])
			if err != nil || ver < 1 {
				errs.add(kp+".id", "the rubric version %q must be a positive number", parts[1])
				continue
			}
			in.RubricID, in.RubricVersion, in.Criterion = parts[0], ver, parts[2]
			if len(parts) == 4 {
				in.Level = parts[3]
			}
		default:
			texts = append(texts, value)
		}
	}
	if len(texts) > 0 {
		in.Body = strings.Join(append([]string{in.Body}, texts...)[boolToInt(in.Body == ""):], "\n\n")
	}
	if in.Kind == "" {
		in.Kind = KindNote
		if mo, _ := m["motivation"].(string); mo == "questioning" {
			in.Kind = KindQuestion
		}
	}
	return in, len(errs.v.Fields) == n
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func parseSelector(errs *importErrs, p string, sel map[string]any, in *AnnotationInput) {
	if t, _ := sel["type"].(string); t != "FragmentSelector" {
		errs.add(p+".type", "must be \"FragmentSelector\" (only media-fragment selectors can be imported)")
		return
	}
	if c, ok := sel["conformsTo"].(string); ok && strings.TrimSuffix(c, "/") != strings.TrimSuffix(MediaFragsSpec, "/") {
		errs.add(p+".conformsTo", "must be %s", MediaFragsSpec)
		return
	}
	v, ok := sel["value"].(string)
	if !ok {
		errs.add(p+".value", "must be a string like \"t=12.5,20\"")
		return
	}
	parseFragment(errs, p+".value", v, in)
}

// parseFragment reads "t=12.5,20&xywh=percent:10,20,30,40" (Media
// Fragments temporal and spatial dimensions; npt clock times accepted).
func parseFragment(errs *importErrs, p, frag string, in *AnnotationInput) {
	sawT := false
	for _, part := range strings.Split(frag, "&") {
		name, val, _ := strings.Cut(part, "=")
		switch name {
		case "t":
			sawT = true
			val = strings.TrimPrefix(val, "npt:")
			a, b, hasEnd := strings.Cut(val, ",")
			start := int64(0)
			if a != "" {
				ms, err := parseNPT(a)
				if err != nil {
					errs.add(p, "start time %q: %v", a, err)
					return
				}
				start = ms
			}
			in.StartMS = &start
			if hasEnd {
				end, err := parseNPT(b)
				if err != nil {
					errs.add(p, "end time %q: %v", b, err)
					return
				}
				if end <= start {
					errs.add(p, "end time %s is not after start time %s", b, a)
					return
				}
				in.EndMS = &end
			}
		case "xywh":
			unit, nums, ok := strings.Cut(val, ":")
			if !ok || unit != "percent" {
				errs.add(p, "xywh must use percent (\"xywh=percent:x,y,w,h\"); pixel regions depend on the rendition")
				return
			}
			fs := strings.Split(nums, ",")
			if len(fs) != 4 {
				errs.add(p, "xywh needs four numbers")
				return
			}
			var r [4]float64
			for i, f := range fs {
				x, err := strconv.ParseFloat(f, 64)
				if err != nil || x < 0 || x > 100 || math.IsNaN(x) {
					errs.add(p, "xywh value %q must be a percentage between 0 and 100", f)
					return
				}
				r[i] = x / 100
			}
			in.Region = &Region{X: r[0], Y: r[1], W: r[2], H: r[3]}
		default:
			errs.add(p, "unknown media fragment %q (expected t= and optionally xywh=)", name)
			return
		}
	}
	if !sawT {
		errs.add(p, "needs a temporal fragment, like \"t=12.5,20\"")
	}
}

// parseNPT reads seconds ("12.5") or a clock time ("1:02:03.5") into ms.
func parseNPT(s string) (int64, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("is not a time")
	}
	var total float64
	for i, x := range parts {
		f, err := strconv.ParseFloat(x, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(x, "eE+-") {
			return 0, fmt.Errorf("is not a time in seconds")
		}
		if i < len(parts)-1 && f != math.Trunc(f) {
			return 0, fmt.Errorf("is not a time")
		}
		total = total*60 + f
	}
	if total > 1e9 {
		return 0, fmt.Errorf("is too large")
	}
	return int64(math.Round(total * 1000)), nil
}

// ImportWebAnnotations validates every item against the clip and, when all
// are valid, stores them in one transaction: an import is all or nothing.
// The importer becomes the author; visibility applies to every item.
func (s *Service) ImportWebAnnotations(ctx context.Context, a accounts.Actor, clipID string, data []byte, visibility string) (ImportResult, error) {
	if err := requireActor(a); err != nil {
		return ImportResult{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipAnnotate, clipID)
	if err != nil {
		return ImportResult{}, err
	}
	if visibility == "" {
		visibility = VisibilityPrivate
	}
	if visibility != VisibilityPrivate && visibility != VisibilityAudience {
		return ImportResult{}, apperr.Invalid("visibility", "must be private or audience")
	}
	inputs, err := ParseWebAnnotations(data)
	if err != nil {
		return ImportResult{}, err
	}
	rows := make([]annotationRow, 0, len(inputs))
	errs := &importErrs{}
	for i, in := range inputs {
		in.Visibility = visibility
		row, err := s.prepare(ctx, clip, in)
		if v, ok := err.(*apperr.Validation); ok {
			for f, msg := range v.Fields {
				errs.add(fmt.Sprintf("items[%d].%s", i, ldField(f)), "%s", msg)
			}
			continue
		}
		if err != nil {
			return ImportResult{}, err
		}
		rows = append(rows, row)
	}
	if err := errs.v.Err(); err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{Items: make([]Annotation, 0, len(rows))}
	var evs []Event
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		for _, row := range rows {
			ann, ev, err := s.insertTx(ctx, q, a, clipID, row, "")
			if err != nil {
				return err
			}
			res.Items = append(res.Items, ann)
			evs = append(evs, ev)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	res.Imported = len(res.Items)
	s.publish(ctx, evs...)
	return res, nil
}

// ldField names where in a Web Annotation an API field came from.
func ldField(f string) string {
	switch {
	case f == "start_ms" || f == "end_ms" || f == "region":
		return "target.selector.value (" + f + ")"
	case f == "body":
		return "body (commenting)"
	case strings.HasPrefix(f, "tags"):
		return "body (tagging) " + f
	case f == "criterion" || f == "level" || f == "rubric_id" || f == "rubric_version":
		return "body (assessing).id (" + f + ")"
	}
	return f
}

// nothingAfter refuses a file with more than one JSON document: a decoder
// stops after the first, and whatever follows (a second document, a
// concatenated payload) would otherwise be dropped without a word.
func nothingAfter(data []byte, dec *json.Decoder) error {
	after := data[dec.InputOffset():]
	if rest := bytes.TrimLeft(after, " \t\r\n"); len(rest) > 0 {
		line, col := lineCol(data, dec.InputOffset()+int64(len(after)-len(rest)))
		return apperr.New(nil, "invalid_import", fmt.Sprintf("line %d, column %d: the file has more after its JSON document; send one document", line, col))
	}
	return nil
}
