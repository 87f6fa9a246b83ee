package server

import (
	"fmt"
	"strings"
	"testing"
)

// redactionPlanCase is one bad plan sent by the clip's owner.
type redactionPlanCase struct {
	name   string
	body   string
	status int
	code   string
	// field is the field the error must name ("" for none).
	field string
}

func planWith(box string) string { return `{"boxes":[` + box + `],"mutes":[]}` }

func redactionPlanCases() []redactionPlanCase {
	kf := func(n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"t_ms":%d,"x":0.1,"y":0.1}`, i)
		}
		return strings.Join(parts, ",")
	}
	box := func(fields string) string {
		return planWith(`{"kind":"blur","start_ms":0,"end_ms":1000,"w":0.2,"h":0.2,` + fields + `}`)
	}
	many := func(n int, item string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = item
		}
		return strings.Join(parts, ",")
	}
	okBox := `{"kind":"blur","start_ms":0,"end_ms":1000,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`
	return []redactionPlanCase{
		{"box out of frame on the right", box(`"keyframes":[{"t_ms":0,"x":0.9,"y":0.1}]`), 400, "invalid_input", "boxes[0].keyframes[0].x"},
		{"box out of frame below", box(`"keyframes":[{"t_ms":0,"x":0.1,"y":0.95}]`), 400, "invalid_input", "boxes[0].keyframes[0].y"},
		{"negative position", box(`"keyframes":[{"t_ms":0,"x":-0.5,"y":0.1}]`), 400, "invalid_input", "boxes[0].keyframes[0].x"},
		{"box larger than the frame", planWith(`{"kind":"solid","start_ms":0,"end_ms":10,"w":2,"h":0.2,"keyframes":[{"t_ms":0,"x":0,"y":0}]}`), 400, "invalid_input", "boxes[0].w"},
		{"zero-sized box", planWith(`{"kind":"solid","start_ms":0,"end_ms":10,"w":0,"h":0,"keyframes":[{"t_ms":0,"x":0,"y":0}]}`), 400, "invalid_input", "boxes[0].w"},
		{"negative start", planWith(`{"kind":"blur","start_ms":-5,"end_ms":1000,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`), 400, "invalid_input", "boxes[0].start_ms"},
		{"end before start", planWith(`{"kind":"blur","start_ms":900,"end_ms":100,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`), 400, "invalid_input", "boxes[0].end_ms"},
		{"end past the clip", planWith(`{"kind":"blur","start_ms":0,"end_ms":99999999,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`), 400, "invalid_input", "boxes[0].end_ms"},
		{"NaN as a JSON literal", box(`"keyframes":[{"t_ms":0,"x":NaN,"y":0.1}]`), 400, "invalid_json", ""},
		{"NaN as a string", box(`"keyframes":[{"t_ms":0,"x":"NaN","y":0.1}]`), 400, "invalid_input", ""},
		{"Infinity", box(`"keyframes":[{"t_ms":0,"x":1e999,"y":0.1}]`), 400, "invalid_input", ""},
		{"fractional milliseconds", box(`"keyframes":[{"t_ms":0.5,"x":0.1,"y":0.1}]`), 400, "invalid_input", ""},
		{"time beyond int64", box(`"keyframes":[{"t_ms":99999999999999999999999,"x":0.1,"y":0.1}]`), 400, "invalid_input", ""},
		{"keyframes out of order", box(`"keyframes":[{"t_ms":500,"x":0.1,"y":0.1},{"t_ms":100,"x":0.2,"y":0.1}]`), 400, "invalid_input", "boxes[0].keyframes[1].t_ms"},
		{"no keyframes", box(`"keyframes":[]`), 400, "invalid_input", "boxes[0].keyframes"},
		{"too many keyframes", box(`"keyframes":[` + kf(241) + `]`), 400, "invalid_input", "boxes[0].keyframes"},
		{"too many boxes", planWith(many(33, okBox)), 400, "invalid_input", "boxes"},
		{"too many mutes", `{"boxes":[],"mutes":[` + many(65, `{"start_ms":0,"end_ms":10}`) + `]}`, 400, "invalid_input", "mutes"},
		{"mute backwards", `{"boxes":[],"mutes":[{"start_ms":300,"end_ms":100}]}`, 400, "invalid_input", "mutes[0].end_ms"},
		{"unknown box kind", planWith(`{"kind":"pixelate","start_ms":0,"end_ms":1000,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`), 400, "invalid_input", "boxes[0].kind"},
		{"unknown field", `{"boxes":[],"mutes":[],"filter":"movie=/etc/passwd"}`, 400, "invalid_input", "filter"},
		{"filter text in a kind", planWith(`{"kind":"blur';movie=/etc/passwd","start_ms":0,"end_ms":1000,"w":0.2,"h":0.2,"keyframes":[{"t_ms":0,"x":0.1,"y":0.1}]}`), 400, "invalid_input", "boxes[0].kind"},
		{"huge body", box(`"keyframes":[` + kf(20000) + `]`), 413, "body_too_large", ""},
	}
}

// TestAttackRedactionPlans: the owner's own bad plans are refused with the
// field that is wrong, the saved plan stays, and an empty plan cannot be
// applied.
func TestAttackRedactionPlans(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.redactable()
	cs := redactionPlanCases()
	t.Logf("attack suite: redaction plans: %d cases", len(cs))
	path := "/api/v1/clips/" + w.clip + "/redaction"
	owner := w.people["owner"]
	before := w.do(owner, "GET", path, "").body
	res := w.do(owner, "POST", path+"/apply", "")
	if res.status != 400 || !strings.Contains(res.body, `"plan"`) {
		t.Errorf("applying an empty plan: %d %s", res.status, res.body)
	}
	for _, c := range cs {
		res := w.do(owner, "PUT", path, c.body)
		if res.status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.name, res.status, c.status, res.body)
		}
		checkRefusal(t, c.name, res, c.code)
		if c.field != "" && !strings.Contains(res.body, `"`+c.field+`":`) {
			t.Errorf("%s: the error does not name %s: %.300s", c.name, c.field, res.body)
		}
	}
	if after := w.do(owner, "GET", path, "").body; after != before {
		t.Errorf("refused plans changed the redaction:\nbefore %s\nafter  %s", before, after)
	}
}
