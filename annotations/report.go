package annotations

import (
	"context"
	"html/template"
	"io"
	"time"

	"github.com/filmroom/filmroom/accounts"
)

// reportTemplate is the printable coaching report. html/template escapes
// everything; BodyHTML comes from RenderBody, which escapes on its own, so
// it alone is passed as template.HTML.
var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"clock": reportClock,
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
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  tr, .reflection { break-inside: avoid; }
  thead { display: table-header-group; }
  .noprint { display: none; }
}
</style>
</head>
<body>
<h1>Coaching report: {{.Clip.Title}}</h1>
<p class="meta">Clip length {{.Duration}} · {{len .Items}} annotations · generated {{.Generated}}</p>
<p class="noprint"><button onclick="window.print()">Print</button></p>
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
<div class="body">{{safe .BodyHTML}}</div>{{if .ReplyCount}}<small>{{.ReplyCount}} replies</small>{{end}}</td>
<td>{{.Author.Name}}</td>
</tr>{{else}}<tr><td colspan="3">No annotations yet.</td></tr>{{end}}</tbody>
</table>
</body>
</html>
`))

// ExportReport writes the printable HTML coaching report of a clip.
func (s *Service) ExportReport(ctx context.Context, a accounts.Actor, clipID string, eq ExportQuery, w io.Writer) error {
	clip, items, err := s.exportItems(ctx, a, clipID, eq)
	if err != nil {
		return err
	}
	sum, err := s.Summarize(ctx, a, clipID)
	if err != nil {
		return err
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
		return err
	}
	return reportTemplate.Execute(w, data)
}

func reportClock(ms int64) string {
	t := clockTime(ms)
	if t[:3] == "00:" {
		t = t[3:]
	}
	return t[:len(t)-4]
}
