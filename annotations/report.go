package annotations

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// reportScript is the report's only script: the site's policy allows no
// inline event handlers, so the Print button gets its handler here, and
// the report's own policy allows this script by its hash (reportPolicy).
const reportScript = `document.getElementById('print').addEventListener('click', () => window.print());`

// reportScriptSource is the CSP source that allows reportScript, computed
// from the very text the template embeds so the two cannot drift.
var reportScriptSource = func() string {
	h := sha256.Sum256([]byte(reportScript))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}()

// reportTemplate is the printable coaching report. html/template escapes
// everything; BodyHTML comes from RenderBody, which escapes on its own, so
// it alone is passed as template.HTML. reportScript is part of the
// template text, which html/template copies as it is.
var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"clock":  reportClock,
	"plural": plural,
	"stamp":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") + " UTC" },
	// safe marks RenderBody output, which is escaped by construction.
	"safe": func(s string) template.HTML { return template.HTML(s) }, // #nosec G203
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Coaching report — {{.Clip.Title}}</title>
<style>
body { font: 11pt/1.45 system-ui, sans-serif; color: #111; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .25rem; }
.meta { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f4f4f4; }
.time { font-variant-numeric: tabular-nums; white-space: nowrap; }
.kind { text-transform: capitalize; font-weight: 600; }
.strength { color: #1a6b2d; } .suggestion { color: #8a4b00; } .question { color: #1d4f91; } .note { color: #444; }
.body p { margin: .2rem 0; }
.reflection { border-left: 3px solid #999; padding-left: .75rem; }
.replies { list-style: none; margin: .4rem 0 0; padding-left: .75rem; border-left: 2px solid #ddd; }
.replies li { margin: .3rem 0; }
.replies .who { font-weight: 600; } .replies .when { color: #555; font-size: .9em; }
.hint { color: #555; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  tr, .reflection, .replies li { break-inside: avoid; }
  thead { display: table-header-group; }
  .noprint { display: none; }
}
</style>
</head>
<body>
<h1>Coaching report: {{.Clip.Title}}</h1>
<p class="meta">Clip length {{.Duration}} · {{plural (len .Items) "annotation" "annotations"}} · generated {{.Generated}}</p>
<p class="noprint"><button id="print" type="button">Print</button> <span class="hint">or press Ctrl+P (⌘P on a Mac)</span></p>
{{with .Reflection}}<h2>Teacher's reflection</h2>
<div class="reflection">
<p><strong>What went well:</strong> {{.WentWell}}</p>
<p><strong>What to change:</strong> {{.ToChange}}</p>
<p><strong>Evidence:</strong> {{.Evidence}}</p>
</div>{{end}}
{{if .Summary.Criteria}}<h2>Rubric summary</h2>
<table>
<thead><tr><th>Criterion</th><th>Annotations</th><th>Mean level</th><th>Levels</th></tr></thead>
<tbody>{{range .Summary.Criteria}}<tr><td>{{.Title}}</td><td>{{.Count}}</td><td>{{with .MeanScore}}{{printf "%.1f" .}}{{else}}–{{end}}</td>
<td>{{range $i, $l := .Levels}}{{if $i}}, {{end}}{{$l.Label}} × {{$l.Count}}{{end}}</td></tr>{{end}}</tbody>
</table>{{end}}
<h2>Annotations</h2>
<table>
<thead><tr><th>Time</th><th>Feedback</th><th>By</th></tr></thead>
<tbody>{{range .Items}}<tr>
<td class="time">{{clock .StartMS}}{{with .EndMS}}–{{clock .}}{{end}}</td>
<td><span class="kind {{.Kind}}">{{.Kind}}</span>{{if .CriterionTitle}} · {{.CriterionTitle}}{{if .LevelLabel}}: {{.LevelLabel}}{{end}}{{end}}{{if .Tags}} · {{range $i, $t := .Tags}}{{if $i}}, {{end}}#{{$t}}{{end}}{{end}}
<div class="body">{{safe .BodyHTML}}</div>{{with .Replies}}
<small>{{plural (len .) "reply" "replies"}}</small>
<ul class="replies">{{range .}}<li><span class="who">{{.Author.Name}}</span> <span class="when">{{stamp .CreatedAt}}</span>
<div class="body">{{safe .BodyHTML}}</div></li>{{end}}</ul>{{end}}</td>
<td>{{.Author.Name}}</td>
</tr>{{else}}<tr><td colspan="3">No annotations yet.</td></tr>{{end}}</tbody>
</table>
<script>` + reportScript + `</script>
</body>
</html>
`))

// ExportReport writes the printable HTML coaching report of a clip.
func (s *Service) ExportReport(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) error {
	_, err := s.exportReport(ctx, a, clipID, eq, w)
	return err
}

// exportReport is ExportReport that also returns the clip, which names the
// file.
func (s *Service) exportReport(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) (ClipInfo, error) {
	clip, items, err := s.exportItems(ctx, a, clipID, eq)
	if err != nil {
		return clip, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return clip, err
	}
	if err := s.reportReplies(ctx, a, items, hidden); err != nil {
		return clip, err
	}
	sum, err := s.Summarize(ctx, a, clipID)
	if err != nil {
		return clip, err
	}
	data := struct {
		Clip       ClipInfo
		Duration   string
		Generated  string
		Items      []Annotation
		Summary    Summary
		Reflection *Reflection
	}{Clip: clip, Duration: clockTime(clip.DurationMS)[:8], Generated: s.clock().Format(time.DateOnly), Items: items, Summary: sum}
	if r, err := s.GetReflection(ctx, a, clipID); err == nil {
		data.Reflection = &r
	} else if !isNotFound(err) {
		return clip, err
	}
	if err := reportTemplate.Execute(w, data); err != nil {
		return clip, fmt.Errorf("write report of clip %s: %w", clipID, err)
	}
	return clip, nil
}

// reportReplies fills the Replies of items with their threads, oldest
// first, the way the thread shows them to the actor (replies), except that
// a printed report leaves deleted replies out instead of showing
// placeholders. One query per 500 annotations, not one per thread.
func (s *Service) reportReplies(ctx context.Context, a accounts.Actor, items []Annotation, hidden bool) error {
	at := make(map[string]int, len(items))
	for i := range items {
		at[items[i].ID] = i
	}
	for start := 0; start < len(items); start += 500 {
		chunk := items[start:min(start+500, len(items))]
		args := make([]any, 0, len(chunk))
		for _, ann := range chunk {
			args = append(args, ann.ID)
		}
		rows, err := s.db.Reader().Query(ctx, `SELECT `+replyCols+` WHERE r.deleted_at IS NULL
			AND r.annotation_id IN (`+sqldb.In(len(chunk))+`) ORDER BY r.created_at, r.id`, args...)
		if err != nil {
			return fmt.Errorf("read replies for the report: %w", err)
		}
		for rows.Next() {
			r, err := scanReply(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read replies for the report: %w", err)
			}
			// Reflect-first hides others' replies like their annotations.
			if hidden && r.Author.ID != a.UserID {
				continue
			}
			i := at[r.AnnotationID]
			items[i].Replies = append(items[i].Replies, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read replies for the report: %w", err)
		}
	}
	return nil
}

// plural writes a count with its noun: "1 reply", "2 replies".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// reportPolicy is the Content-Security-Policy of the report page: the
// site's policy (the securityHeaders middleware sets it before handlers
// run, and the report's header replaces it) with reportScript allowed by
// its hash and nothing else loosened. Building on the middleware's value
// keeps one definition of the policy.
func reportPolicy(sitePolicy string) string {
	return withScriptSource(sitePolicy, reportScriptSource)
}

// withScriptSource adds source to the directives that govern <script>
// elements. Without a script-src, scripts follow default-src, so the new
// script-src starts from default-src's sources to allow what the policy
// allowed before; 'none' goes, as it may not be combined with a source.
func withScriptSource(policy, source string) string {
	var dirs []string
	defaults := ""
	found := false
	for _, d := range strings.Split(policy, ";") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		name, sources, _ := strings.Cut(d, " ")
		switch strings.ToLower(name) {
		case "default-src":
			defaults = sources
		case "script-src", "script-src-elem":
			d = name + " " + addSource(sources, source)
			found = true
		}
		dirs = append(dirs, d)
	}
	if !found {
		dirs = append(dirs, "script-src "+addSource(defaults, source))
	}
	return strings.Join(dirs, "; ")
}

func addSource(sources, source string) string {
	var out []string
	for _, s := range strings.Fields(sources) {
		if strings.ToLower(s) != "'none'" {
			out = append(out, s)
		}
	}
	return strings.Join(append(out, source), " ")
}

func reportClock(ms int64) string {
	t := clockTime(ms)
	if t[:3] == "00:" {
		t = t[3:]
	}
	return t[:len(t)-4]
}
