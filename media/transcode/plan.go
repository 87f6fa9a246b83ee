package transcode

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// plannedRung is a rung with its output frame size.
type plannedRung struct {
	Rung
	width, height int
}

type plan struct {
	rungs []plannedRung
	// fps is the constant output frame rate, as an ffmpeg rational.
	fps      string
	fpsValue float64
	gop      int
	channels int
	// Sprite geometry.
	thumbW, thumbH int
	interval       int // seconds between thumbnails
	cols, rows     int
	// posterFrame is the index, in the constant-rate stream, of the frame
	// used as poster: a tenth into the clip (the first seconds of a lesson
	// recording are usually the camera being set up), at most 30 s in.
	posterFrame int
	// Waveform resolution.
	samplesPerPixel int
}

const (
	waveformRate = 8000 // Hz; plenty for a speech waveform
	maxPeaks     = 20000
	thumbLong    = 160 // px, the long side of a sprite thumbnail
	spriteCols   = 10
)

func makePlan(p *Probe, opt Options) plan {
	pl := plan{channels: min(max(p.AudioChannels, 1), 2)}
	totalSamples := int(p.Duration.Seconds() * waveformRate)
	pl.samplesPerPixel = max(80, (totalSamples+maxPeaks-1)/maxPeaks)
	if !p.HasVideo {
		// Audio-only: one AAC rendition at the ladder's best audio rate.
		best := 0
		for _, r := range opt.Ladder {
			best = max(best, r.AudioBitrate)
		}
		if best == 0 {
			best = 128_000
		}
		pl.rungs = []plannedRung{{Rung: Rung{Name: "audio", AudioBitrate: best}}}
		return pl
	}
	pl.fps, pl.fpsValue = outputRate(p.FrameRate)
	pl.gop = max(1, int(math.Round(pl.fpsValue*float64(opt.SegmentSeconds))))
	pl.posterFrame = int(min(p.Duration/10, 30*time.Second).Seconds() * pl.fpsValue)

	short := min(p.Width, p.Height)
	for _, r := range sortedLadder(opt.Ladder) {
		if r.Height <= short {
			w, h := fitShort(p.Width, p.Height, r.Height)
			pl.rungs = append(pl.rungs, plannedRung{Rung: r, width: w, height: h})
		}
	}
	if own, ok := ownHeightRung(sortedLadder(opt.Ladder), short); ok && len(pl.rungs) > 0 {
		// Between two rungs (a 640x480 browser recording between 360p and
		// 540p): also a rendition at the source's own height, so its full
		// detail is not thrown away.
		w, h := even(p.Width), even(p.Height)
		pl.rungs = append(pl.rungs, plannedRung{Rung: own, width: w, height: h})
	}
	if len(pl.rungs) == 0 {
		// Smaller than the smallest rung: one rendition at its own size,
		// with the smallest rung's bit rates.
		r := sortedLadder(opt.Ladder)[0]
		w, h := even(p.Width), even(p.Height)
		r.Name = fmt.Sprintf("%dp", min(w, h))
		pl.rungs = []plannedRung{{Rung: r, width: w, height: h}}
	}

	if p.Width >= p.Height {
		pl.thumbW, pl.thumbH = thumbLong, even(thumbLong*p.Height/p.Width)
	} else {
		pl.thumbW, pl.thumbH = even(thumbLong*p.Width/p.Height), thumbLong
	}
	pl.thumbW, pl.thumbH = max(pl.thumbW, 2), max(pl.thumbH, 2)
	iv := max(1, int(math.Ceil(opt.SpriteInterval.Seconds())))
	if n := int(math.Ceil(p.Duration.Seconds() / float64(iv))); n > opt.MaxThumbnails {
		iv = int(math.Ceil(p.Duration.Seconds() / float64(opt.MaxThumbnails)))
	}
	pl.interval = iv
	n := int(math.Ceil(p.Duration.Seconds()/float64(iv))) + 2 // room so the tile only flushes at the end
	pl.cols = min(spriteCols, n)
	pl.rows = (n + pl.cols - 1) / pl.cols
	return pl
}

// ownRungMargin is how much taller than the rung below a source must be to
// get a rendition of its own: 480 over 360 does, 800 over 720 does not.
const ownRungMargin = 1.15

// ownHeightRung is the rung at the source's own short side when it falls
// between two rungs of the ladder (sorted), with bit rates interpolated
// between theirs; false when it is at or above the top rung, below the
// first, or too close to the rung below.
func ownHeightRung(ladder []Rung, short int) (Rung, bool) {
	for i := 1; i < len(ladder); i++ {
		lo, hi := ladder[i-1], ladder[i]
		if short <= lo.Height || short >= hi.Height {
			continue
		}
		if float64(short) < ownRungMargin*float64(lo.Height) {
			return Rung{}, false
		}
		f := float64(short-lo.Height) / float64(hi.Height-lo.Height)
		lerp := func(a, b int) int { return a + int(math.Round(f*float64(b-a))) }
		return Rung{Name: fmt.Sprintf("%dp", even(short)), Height: even(short),
			VideoBitrate: lerp(lo.VideoBitrate, hi.VideoBitrate), AudioBitrate: max(lo.AudioBitrate, hi.AudioBitrate)}, true
	}
	return Rung{}, false
}

func sortedLadder(l []Rung) []Rung {
	out := append([]Rung(nil), l...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Height < out[j-1].Height; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// fitShort scales w x h so the short side is target, both sides even.
func fitShort(w, h, target int) (int, int) {
	if w >= h {
		return even(int(math.Round(float64(w) * float64(target) / float64(h)))), even(target)
	}
	return even(target), even(int(math.Round(float64(h) * float64(target) / float64(w))))
}

func even(n int) int {
	n -= n % 2
	return max(n, 2)
}

// outputRate picks a constant output frame rate: the source's average rate
// snapped to a broadcast rate, halved above 45 fps and capped at 30 (a
// lesson needs no 60 fps, and it doubles the cost), 30 when unknown.
func outputRate(src float64) (string, float64) {
	if src <= 0 {
		return "30", 30
	}
	for src > 45 {
		src /= 2 // 50 -> 25, 59.94 -> 29.97, 120 -> 30
	}
	src = min(src, 30)
	candidates := []struct {
		s string
		v float64
	}{
		{"24000/1001", 24000.0 / 1001}, {"24", 24}, {"25", 25},
		{"30000/1001", 30000.0 / 1001}, {"30", 30},
	}
	if src < 23 {
		// Screen recordings and timelapses: keep their rate, whole frames.
		r := max(1, int(math.Round(src)))
		return strconv.Itoa(r), float64(r)
	}
	best := candidates[0]
	for _, c := range candidates[1:] {
		if math.Abs(c.v-src) < math.Abs(best.v-src) {
			best = c
		}
	}
	return best.s, best.v
}
