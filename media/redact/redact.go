// Package redact owns a clip's redaction plan: blur or solid boxes over a
// time range, each following the keyframes its owner set, and ranges of
// muted audio. It validates a plan, interpolates a box's position at any
// moment (the web app's preview mirrors Interpolate, see
// frontend/src/lib/redaction.ts) and builds the ffmpeg filter graph that
// burns the plan into a new master.
//
// Positions and sizes are fractions of the displayed frame (0–1, origin top
// left), so a plan does not depend on the size of the rendition the owner
// drew it on. Times are milliseconds from the start of the clip.
//
// Limits: a box keeps its size while it moves (keyframes set its top-left
// corner; draw it as large as the face gets); positions between keyframes
// are linear; before the first keyframe and after the last the box stays
// where that keyframe put it.
package redact

import (
	"fmt"
	"math"

	"github.com/filmroom/filmroom/internal/apperr"
)

// Kind is how a box hides what is under it.
type Kind string

// The box kinds.
const (
	Blur  Kind = "blur"
	Solid Kind = "solid"
)

// Keyframe puts a box's top-left corner at X, Y at time TMS.
type Keyframe struct {
	TMS int64   `json:"t_ms"`
	X   float64 `json:"x"`
	Y   float64 `json:"y"`
}

// Box hides a region from StartMS to EndMS (inclusive).
type Box struct {
	Kind      Kind       `json:"kind"`
	StartMS   int64      `json:"start_ms"`
	EndMS     int64      `json:"end_ms"`
	W         float64    `json:"w"`
	H         float64    `json:"h"`
	Keyframes []Keyframe `json:"keyframes"`
	// Label is the owner's note ("student by the window"); never rendered.
	Label string `json:"label,omitempty"`
}

// Mute silences the audio from StartMS to EndMS.
type Mute struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

// Plan is everything to burn into a clip.
type Plan struct {
	Boxes []Box  `json:"boxes"`
	Mutes []Mute `json:"mutes"`
}

// Limits on one plan, so that a filter graph stays a size ffmpeg handles
// quickly.
const (
	MaxBoxes     = 32
	MaxKeyframes = 240
	MaxMutes     = 64
	// MinSize is the smallest box side, as a fraction of the frame.
	MinSize  = 0.01
	maxLabel = 200
)

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Boxes) == 0 && len(p.Mutes) == 0 }

// Normalize replaces nil lists with empty ones (for JSON).
func (p Plan) Normalize() Plan {
	if p.Boxes == nil {
		p.Boxes = []Box{}
	}
	if p.Mutes == nil {
		p.Mutes = []Mute{}
	}
	for i := range p.Boxes {
		if p.Boxes[i].Keyframes == nil {
			p.Boxes[i].Keyframes = []Keyframe{}
		}
	}
	return p
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Validate checks the plan against a clip of durationMS with or without
// video and audio. The error is an *apperr.Validation naming every field
// that is wrong (boxes[0].keyframes[2].t_ms …).
func Validate(p Plan, durationMS int64, hasVideo, hasAudio bool) error {
	v := &apperr.Validation{}
	if len(p.Boxes) > MaxBoxes {
		v.Add("boxes", "at most %d boxes in one plan", MaxBoxes)
	}
	if len(p.Mutes) > MaxMutes {
		v.Add("mutes", "at most %d muted ranges in one plan", MaxMutes)
	}
	if len(p.Boxes) > 0 && !hasVideo {
		v.Add("boxes", "this clip has no picture to draw boxes on")
	}
	if len(p.Mutes) > 0 && !hasAudio {
		v.Add("mutes", "this clip has no sound to mute")
	}
	if len(v.Fields) > 0 {
		return v
	}
	span := func(field string, start, end int64) {
		switch {
		case start < 0:
			v.Add(field+".start_ms", "must not be negative")
		case end <= start:
			v.Add(field+".end_ms", "must be after start_ms")
		case end > durationMS:
			v.Add(field+".end_ms", "must be within the clip (%d ms long)", durationMS)
		}
	}
	for i, b := range p.Boxes {
		f := fmt.Sprintf("boxes[%d]", i)
		if b.Kind != Blur && b.Kind != Solid {
			v.Add(f+".kind", "must be %q or %q", Blur, Solid)
		}
		if len([]rune(b.Label)) > maxLabel {
			v.Add(f+".label", "must be at most %d characters", maxLabel)
		}
		span(f, b.StartMS, b.EndMS)
		sizeOK := true
		if !finite(b.W) || b.W < MinSize || b.W > 1 {
			v.Add(f+".w", "must be between %.2f and 1 (a fraction of the frame's width)", MinSize)
			sizeOK = false
		}
		if !finite(b.H) || b.H < MinSize || b.H > 1 {
			v.Add(f+".h", "must be between %.2f and 1 (a fraction of the frame's height)", MinSize)
			sizeOK = false
		}
		switch {
		case len(b.Keyframes) == 0:
			v.Add(f+".keyframes", "needs at least one keyframe (where the box is)")
		case len(b.Keyframes) > MaxKeyframes:
			v.Add(f+".keyframes", "at most %d keyframes in one box", MaxKeyframes)
		}
		if len(b.Keyframes) > MaxKeyframes {
			continue
		}
		for j, k := range b.Keyframes {
			kf := fmt.Sprintf("%s.keyframes[%d]", f, j)
			if k.TMS < 0 || k.TMS > durationMS {
				v.Add(kf+".t_ms", "must be within the clip (0 to %d ms)", durationMS)
			} else if j > 0 && k.TMS <= b.Keyframes[j-1].TMS {
				v.Add(kf+".t_ms", "keyframes must be in time order, each after the one before")
			}
			if !finite(k.X) || k.X < 0 || (sizeOK && k.X+b.W > 1+1e-9) {
				v.Add(kf+".x", "the box must lie inside the frame (0 ≤ x and x + w ≤ 1)")
			}
			if !finite(k.Y) || k.Y < 0 || (sizeOK && k.Y+b.H > 1+1e-9) {
				v.Add(kf+".y", "the box must lie inside the frame (0 ≤ y and y + h ≤ 1)")
			}
		}
	}
	for i, m := range p.Mutes {
		span(fmt.Sprintf("mutes[%d]", i), m.StartMS, m.EndMS)
	}
	if len(v.Fields) > 0 {
		return v
	}
	return nil
}

// At returns the box's top-left corner at tMS: linear between the
// keyframes around tMS, the first keyframe's before it and the last's
// after. It is defined for any time; whether the box shows is Active.
func (b Box) At(tMS float64) (x, y float64) {
	ks := b.Keyframes
	if len(ks) == 0 {
		return 0, 0
	}
	if tMS <= float64(ks[0].TMS) {
		return ks[0].X, ks[0].Y
	}
	for i := 1; i < len(ks); i++ {
		if tMS < float64(ks[i].TMS) {
			a, c := ks[i-1], ks[i]
			f := (tMS - float64(a.TMS)) / float64(c.TMS-a.TMS)
			return a.X + (c.X-a.X)*f, a.Y + (c.Y-a.Y)*f
		}
	}
	last := ks[len(ks)-1]
	return last.X, last.Y
}

// Active reports whether the box shows at tMS.
func (b Box) Active(tMS float64) bool {
	return tMS >= float64(b.StartMS) && tMS <= float64(b.EndMS)
}
