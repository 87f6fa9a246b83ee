package redact

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/internal/apperr"
)

type interpCase struct {
	Name      string       `json:"name"`
	Keyframes []Keyframe   `json:"keyframes"`
	At        [][3]float64 `json:"at"`
}

// The same table drives the web app's preview test, so the overlay drawn
// while playing sits where the render puts the box.
func TestInterpolation(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/interpolation.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Cases []interpCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Cases) < 5 {
		t.Fatalf("only %d cases in the table", len(table.Cases))
	}
	for _, c := range table.Cases {
		b := Box{Kind: Blur, W: 0.1, H: 0.1, Keyframes: c.Keyframes}
		for _, at := range c.At {
			x, y := b.At(at[0])
			if math.Abs(x-at[1]) > 1e-9 || math.Abs(y-at[2]) > 1e-9 {
				t.Errorf("%s: at %v ms got (%v, %v), want (%v, %v)", c.Name, at[0], x, y, at[1], at[2])
			}
		}
	}
}

func box(kind Kind, start, end int64, ks ...Keyframe) Box {
	return Box{Kind: kind, StartMS: start, EndMS: end, W: 0.2, H: 0.2, Keyframes: ks}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	many := make([]Keyframe, MaxKeyframes+1)
	for i := range many {
		many[i] = Keyframe{TMS: int64(i), X: 0.1, Y: 0.1}
	}
	cases := []struct {
		name  string
		plan  Plan
		field string // "" for a valid plan
	}{
		{"static box", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{0, 0.1, 0.1})}}, ""},
		{"moving solid box and a mute", Plan{Boxes: []Box{box(Solid, 0, 4000, Keyframe{0, 0, 0}, Keyframe{4000, 0.8, 0.8})}, Mutes: []Mute{{100, 200}}}, ""},
		{"unknown kind", Plan{Boxes: []Box{box("pixelate", 0, 1000, Keyframe{0, 0.1, 0.1})}}, "boxes[0].kind"},
		{"negative start", Plan{Boxes: []Box{box(Blur, -1, 1000, Keyframe{0, 0.1, 0.1})}}, "boxes[0].start_ms"},
		{"end before start", Plan{Boxes: []Box{box(Blur, 500, 500, Keyframe{0, 0.1, 0.1})}}, "boxes[0].end_ms"},
		{"end past the clip", Plan{Boxes: []Box{box(Blur, 0, 4001, Keyframe{0, 0.1, 0.1})}}, "boxes[0].end_ms"},
		{"box out of frame on the right", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{0, 0.9, 0.1})}}, "boxes[0].keyframes[0].x"},
		{"box out of frame below", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{0, 0.1, 0.81})}}, "boxes[0].keyframes[0].y"},
		{"negative position", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{0, -0.01, 0.1})}}, "boxes[0].keyframes[0].x"},
		{"NaN position", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{0, math.NaN(), 0.1})}}, "boxes[0].keyframes[0].x"},
		{"too small", Plan{Boxes: []Box{{Kind: Blur, StartMS: 0, EndMS: 10, W: 0.001, H: 0.2, Keyframes: []Keyframe{{0, 0, 0}}}}}, "boxes[0].w"},
		{"wider than the frame", Plan{Boxes: []Box{{Kind: Blur, StartMS: 0, EndMS: 10, W: 1.5, H: 0.2, Keyframes: []Keyframe{{0, 0, 0}}}}}, "boxes[0].w"},
		{"no keyframe", Plan{Boxes: []Box{box(Blur, 0, 1000)}}, "boxes[0].keyframes"},
		{"keyframes out of order", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{500, 0.1, 0.1}, Keyframe{200, 0.1, 0.1})}}, "boxes[0].keyframes[1].t_ms"},
		{"two keyframes at one time", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{500, 0.1, 0.1}, Keyframe{500, 0.2, 0.1})}}, "boxes[0].keyframes[1].t_ms"},
		{"keyframe past the clip", Plan{Boxes: []Box{box(Blur, 0, 1000, Keyframe{4001, 0.1, 0.1})}}, "boxes[0].keyframes[0].t_ms"},
		{"too many keyframes", Plan{Boxes: []Box{box(Blur, 0, 1000, many...)}}, "boxes[0].keyframes"},
		{"too many boxes", Plan{Boxes: make([]Box, MaxBoxes+1)}, "boxes"},
		{"too many mutes", Plan{Mutes: make([]Mute, MaxMutes+1)}, "mutes"},
		{"mute backwards", Plan{Mutes: []Mute{{300, 100}}}, "mutes[0].end_ms"},
		{"long label", Plan{Boxes: []Box{{Kind: Blur, EndMS: 10, W: 0.2, H: 0.2, Keyframes: []Keyframe{{0, 0, 0}}, Label: strings.Repeat("x", 201)}}}, "boxes[0].label"},
	}
	for _, c := range cases {
		err := Validate(c.plan, 4000, true, true)
		var v *apperr.Validation
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.field != "" && !errors.As(err, &v):
			t.Errorf("%s: got %v, want a validation error on %s", c.name, err, c.field)
		case c.field != "" && v.Fields[c.field] == "":
			t.Errorf("%s: got %v, want a message on %s", c.name, v.Fields, c.field)
		}
	}
	if err := Validate(Plan{Boxes: []Box{box(Blur, 0, 10, Keyframe{0, 0, 0})}}, 4000, false, true); err == nil {
		t.Error("boxes on a clip without video must be refused")
	}
	if err := Validate(Plan{Mutes: []Mute{{0, 10}}}, 4000, true, false); err == nil {
		t.Error("mutes on a clip without audio must be refused")
	}
}

func TestGraph(t *testing.T) {
	t.Parallel()
	p := Plan{
		Boxes: []Box{
			box(Blur, 1000, 3000, Keyframe{0, 0.1, 0.1}),
			box(Solid, 0, 4000, Keyframe{1000, 0, 0.5}, Keyframe{3000, 0.5, 0.5}),
		},
		Mutes: []Mute{{500, 1500}},
	}
	g := Graph(p, Frame{Width: 640, Height: 360, VideoStream: 0, AudioStream: 1})
	for _, want := range []string{
		"[0:0]format=yuv420p,split=3[rb][rp0][rp1]",
		"[rp0]crop=w=128:h=72:x='2*trunc(64.00/2)':y='2*trunc(36.00/2)',boxblur=luma_radius=18:luma_power=3:chroma_radius=9:chroma_power=3[rq0]",
		"[rb][rq0]overlay=x='2*trunc(64.00/2)':y='2*trunc(36.00/2)':enable='between(t,1.000,3.000)'[ro0]",
		"x='2*trunc((0.00+(320.00*clip((t-1.000)/2.000,0,1)))/2)'",
		"drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill[rq1]",
		"enable='between(t,0.000,4.000)'[rv]",
		"[0:1]volume=volume=0:enable='between(t,0.500,1.500)'[ra]",
	} {
		if !strings.Contains(g.Filter, want) {
			t.Errorf("graph lacks %q:\n%s", want, g.Filter)
		}
	}
	if g.Video != "rv" || g.Audio != "ra" {
		t.Errorf("outputs %q %q", g.Video, g.Audio)
	}
	empty := Graph(Plan{}, Frame{Width: 640, Height: 360, VideoStream: 0, AudioStream: -1})
	if empty.Filter != "[0:0]null[rv]" || empty.Audio != "" {
		t.Errorf("empty plan graph %+v", empty)
	}
}
