// Validation of annotation input: bodies, tags, times, regions and rubric coding.

package annotations

import (
	"context"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/filmroom/filmroom/internal/apperr"
)

// checkBody validates free text written by a person.
func checkBody(v *apperr.Validation, field, body string, required bool) {
	switch {
	case !utf8.ValidString(body):
		v.Add(field, "must be valid UTF-8 text")
	case required && strings.TrimSpace(body) == "":
		v.Add(field, "is required")
	default:
		if n := utf8.RuneCountInString(body); n > MaxBodyChars {
			v.Add(field, "is %d characters long; the limit is %d characters", n, MaxBodyChars)
			return
		}
		for _, r := range body {
			if r != '\n' && r != '\r' && r != '\t' && unicode.IsControl(r) {
				v.Add(field, "must not contain control characters (found U+%04X)", r)
				return
			}
		}
	}
}

func normTags(v *apperr.Validation, field string, tags []string) []string {
	out := []string{}
	seen := map[string]bool{}
	if len(tags) > MaxTags {
		v.Add(field, "at most %d tags", MaxTags)
		return out
	}
	for i, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		switch {
		case !utf8.ValidString(t):
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must be valid UTF-8 text")
		case t == "":
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must not be empty")
		case utf8.RuneCountInString(t) > MaxTagChars:
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must be at most %d characters", MaxTagChars)
		case strings.ContainsAny(t, ",;") || strings.IndexFunc(t, unicode.IsControl) >= 0:
			v.Add(fmt.Sprintf("%s[%d]", field, i), "must not contain ',', ';' or control characters")
		case !seen[t]:
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func roundRegion(f float64) float64 { return math.Round(f*regionDecimals) / regionDecimals }

// checkTimes applies the clip's duration: 0 ≤ start ≤ duration, end >
// start, end ≤ duration; while the duration is unknown (0), only
// non-negative.
func checkTimes(v *apperr.Validation, durationMS int64, start *int64, end *int64) {
	if start == nil {
		v.Add("start_ms", "is required")
		return
	}
	if *start < 0 {
		v.Add("start_ms", "must not be negative")
	} else if durationMS > 0 && *start > durationMS {
		v.Add("start_ms", "is past the end of the clip (%d ms long)", durationMS)
	}
	if end != nil {
		switch {
		case *end <= *start:
			v.Add("end_ms", "must be after start_ms")
		case durationMS > 0 && *end > durationMS:
			v.Add("end_ms", "is past the end of the clip (%d ms long)", durationMS)
		}
	}
}

func checkRegion(v *apperr.Validation, r *Region) *Region {
	if r == nil {
		return nil
	}
	const eps = 1e-9
	in01 := func(f float64) bool { return !math.IsNaN(f) && f >= 0 && f <= 1 }
	switch {
	case !in01(r.X) || !in01(r.Y) || !in01(r.W) || !in01(r.H):
		v.Add("region", "x, y, w and h must each be between 0 and 1")
	case r.W <= 0 || r.H <= 0:
		v.Add("region", "w and h must be greater than 0")
	case r.X+r.W > 1+eps || r.Y+r.H > 1+eps:
		v.Add("region", "must lie inside the frame (x+w ≤ 1 and y+h ≤ 1)")
	}
	out := Region{X: roundRegion(r.X), Y: roundRegion(r.Y), W: roundRegion(r.W), H: roundRegion(r.H)}
	return &out
}

// coding is the rubric part of an annotation.
type coding struct {
	rubricID       string
	version        int
	criterion      string
	criterionTitle string
	level          string
	levelLabel     string
	levelScore     *int
}

// code resolves criterion and level against the clip's rubric.
func (s *Service) code(ctx context.Context, v *apperr.Validation, clip ClipInfo, rubricID string, version int, criterion, level string) coding {
	if criterion == "" {
		if level != "" {
			v.Add("level", "needs a criterion")
		}
		if rubricID != "" && rubricID != clip.RubricID {
			v.Add("rubric_id", "is not this clip's rubric")
		}
		return coding{}
	}
	if clip.RubricID == "" {
		v.Add("criterion", "this clip has no rubric; set one on the clip before coding against criteria")
		return coding{}
	}
	if rubricID != "" && rubricID != clip.RubricID {
		v.Add("criterion", "is from another rubric; this clip is coded with rubric %s", clip.RubricID)
		return coding{}
	}
	r, err := s.versionContent(ctx, s.db.Reader(), clip.RubricID, version)
	if err != nil {
		if isNotFound(err) {
			v.Add("rubric_version", "rubric %s has no version %d", clip.RubricID, version)
		} else {
			v.Add("criterion", "the clip's rubric could not be read")
			s.log.Error("Reading a rubric failed.", "rubric_id", clip.RubricID, "error", err)
		}
		return coding{}
	}
	c, ok := r.Criterion(criterion)
	if !ok {
		v.Add("criterion", "%q is not a criterion of the clip's rubric %q (version %d)", criterion, r.Title, r.Version)
		return coding{}
	}
	out := coding{rubricID: r.ID, version: r.Version, criterion: c.Key, criterionTitle: c.Title}
	if level != "" {
		l, ok := c.Level(level)
		if !ok {
			v.Add("level", "%q is not a level of criterion %q", level, c.Key)
			return coding{}
		}
		score := l.Score
		out.level, out.levelLabel, out.levelScore = l.Key, l.Label, &score
	}
	return out
}

// annotationRow is a validated annotation ready to store.
type annotationRow struct {
	start      int64
	end        *int64
	region     *Region
	body       string
	kind       string
	tags       []string
	visibility string
	coding
}

func checkKind(v *apperr.Validation, k string) {
	switch k {
	case KindStrength, KindSuggestion, KindQuestion, KindNote:
	default:
		v.Add("kind", "must be strength, suggestion, question or note")
	}
}

func checkVisibility(v *apperr.Validation, vis string) {
	if vis != VisibilityPrivate && vis != VisibilityAudience {
		v.Add("visibility", "must be private or audience")
	}
}

// prepare validates a create request against the clip.
func (s *Service) prepare(ctx context.Context, clip ClipInfo, in AnnotationInput) (annotationRow, error) {
	v := &apperr.Validation{}
	if in.Kind == "" {
		in.Kind = KindNote
	}
	if in.Visibility == "" {
		in.Visibility = VisibilityAudience
	}
	checkTimes(v, clip.DurationMS, in.StartMS, in.EndMS)
	row := annotationRow{end: in.EndMS, body: in.Body, kind: in.Kind, visibility: in.Visibility}
	if in.StartMS != nil {
		row.start = *in.StartMS
	}
	row.region = checkRegion(v, in.Region)
	checkBody(v, "body", in.Body, false)
	checkKind(v, in.Kind)
	checkVisibility(v, in.Visibility)
	row.tags = normTags(v, "tags", in.Tags)
	if len(in.IdempotencyKey) > maxIdemKeyLen || !utf8.ValidString(in.IdempotencyKey) || strings.ContainsRune(in.IdempotencyKey, 0) {
		v.Add("idempotency_key", "must be at most %d bytes of text", maxIdemKeyLen)
	}
	if len(v.Fields) == 0 {
		row.coding = s.code(ctx, v, clip, in.RubricID, in.RubricVersion, in.Criterion, in.Level)
	}
	return row, v.Err()
}
