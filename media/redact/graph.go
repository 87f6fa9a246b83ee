package redact

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/filmroom/filmroom/media/transcode"
)

// Frame is what the graph needs to know about the input: the displayed
// size (after rotation) and the input stream indexes (-1: none).
type Frame struct {
	Width, Height int
	VideoStream   int
	AudioStream   int
}

// minPixels is the smallest box side drawn, so that the blur has a
// radius of at least one pixel in every plane.
const minPixels = 8

// Graph builds the ffmpeg filter graph that burns p into a new master.
// Every box is a patch of the frame (crop, then boxblur or painted
// black) laid back over it (overlay) while between(t, start, end); the
// crop and the overlay follow the same position expression, the keyframe
// interpolation of Box.At written in ffmpeg's expression language. Every
// mute is a volume=0 with the same kind of enable.
func Graph(p Plan, f Frame) transcode.Graph {
	var parts []string
	g := transcode.Graph{}
	if f.VideoStream >= 0 {
		n := len(p.Boxes)
		in := fmt.Sprintf("[0:%d]", f.VideoStream)
		if n == 0 {
			parts = append(parts, in+"null[rv]")
		} else {
			labels := "[rb]"
			for i := range n {
				labels += fmt.Sprintf("[rp%d]", i)
			}
			parts = append(parts, fmt.Sprintf("%sformat=yuv420p,split=%d%s", in, n+1, labels))
			prev := "[rb]"
			for i, b := range p.Boxes {
				w, h := boxPixels(b.W, f.Width), boxPixels(b.H, f.Height)
				xe := positionExpr(b, f.Width, func(k Keyframe) float64 { return k.X })
				ye := positionExpr(b, f.Height, func(k Keyframe) float64 { return k.Y })
				patch := fmt.Sprintf("[rp%d]crop=w=%d:h=%d:x='%s':y='%s'", i, w, h, xe, ye)
				if b.Kind == Solid {
					patch += ",drawbox=x=0:y=0:w=iw:h=ih:color=black:t=fill"
				} else {
					lr := max(1, min(w, h)/4)
					cr := max(1, min(w, h)/8)
					patch += fmt.Sprintf(",boxblur=luma_radius=%d:luma_power=3:chroma_radius=%d:chroma_power=3", lr, cr)
				}
				parts = append(parts, fmt.Sprintf("%s[rq%d]", patch, i))
				out := fmt.Sprintf("[ro%d]", i)
				if i == n-1 {
					out = "[rv]"
				}
				parts = append(parts, fmt.Sprintf("%s[rq%d]overlay=x='%s':y='%s':enable='%s'%s", prev, i, xe, ye, between(b.StartMS, b.EndMS), out))
				prev = out
			}
		}
		g.Video = "rv"
	}
	if f.AudioStream >= 0 {
		chain := fmt.Sprintf("[0:%d]", f.AudioStream)
		if len(p.Mutes) == 0 {
			chain += "anull"
		}
		for i, m := range p.Mutes {
			if i > 0 {
				chain += ","
			}
			chain += "volume=volume=0:enable='" + between(m.StartMS, m.EndMS) + "'"
		}
		parts = append(parts, chain+"[ra]")
		g.Audio = "ra"
	}
	g.Filter = strings.Join(parts, ";")
	return g
}

func boxPixels(frac float64, size int) int {
	px := int(frac*float64(size)+0.5) &^ 1
	return min(max(px, minPixels), size&^1)
}

func between(startMS, endMS int64) string {
	return "between(t," + secs(float64(startMS)) + "," + secs(float64(endMS)) + ")"
}

func secs(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 3, 64) }

func px(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// positionExpr is Box.At for one coordinate in pixels, as an ffmpeg
// expression of t (seconds): the first keyframe's value plus, for every
// pair of keyframes, the change between them times the share of that
// stretch already passed (clip(…, 0, 1)), rather than nested ifs. ffmpeg's
// expression parser refuses a chain of about a hundred terms, so the terms
// are summed as a tree of at most eight per parenthesis (240 keyframes are
// three levels). Rounded down to even pixels, as crop does with 4:2:0
// video, so the patch lands where it was taken.
func positionExpr(b Box, size int, coord func(Keyframe) float64) string {
	ks := b.Keyframes
	s := float64(size)
	first := px(coord(ks[0]) * s)
	var terms []string
	for i := 1; i < len(ks); i++ {
		d := (coord(ks[i]) - coord(ks[i-1])) * s
		if d == 0 {
			continue
		}
		t0, t1 := float64(ks[i-1].TMS), float64(ks[i].TMS)
		terms = append(terms, fmt.Sprintf("%s*clip((t-%s)/%s,0,1)", px(d), secs(t0), secs(t1-t0)))
	}
	if len(terms) == 0 {
		return "2*trunc(" + first + "/2)"
	}
	return "2*trunc((" + first + "+" + sumTree(terms) + ")/2)"
}

// sumTree adds terms in parentheses of at most eight.
func sumTree(terms []string) string {
	if len(terms) <= 8 {
		return "(" + strings.Join(terms, "+") + ")"
	}
	k := (len(terms) + 7) / 8
	var parts []string
	for i := 0; i < len(terms); i += k {
		parts = append(parts, sumTree(terms[i:min(i+k, len(terms))]))
	}
	return "(" + strings.Join(parts, "+") + ")"
}
