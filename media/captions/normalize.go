package captions

import (
	"fmt"
	"sort"
)

// Issue is a timing problem between cues of an uploaded track: cues out of
// order or overlapping. Players cope with both, but a timeline and a
// transcript built from such a track jump around, so the upload screen shows
// them and offers [Normalize].
type Issue struct {
	// Index is the cue (0-based, in file order) the issue is about; Other is
	// the cue it conflicts with.
	Index int    `json:"index"`
	Other int    `json:"other"`
	Kind  string `json:"kind"` // "out_of_order" or "overlap"
	Msg   string `json:"message"`
}

// Lint reports cues that start before the cue before them, and cues that
// start while the previous one is still showing.
func Lint(cues []Cue) []Issue {
	var out []Issue
	for i := 1; i < len(cues); i++ {
		p, c := cues[i-1], cues[i]
		switch {
		case c.StartMS < p.StartMS:
			out = append(out, Issue{Index: i, Other: i - 1, Kind: "out_of_order",
				Msg: fmt.Sprintf("cue %d starts at %s, before cue %d (%s)", i+1, FormatTimestamp(c.StartMS), i, FormatTimestamp(p.StartMS))})
		case c.StartMS < p.EndMS:
			out = append(out, Issue{Index: i, Other: i - 1, Kind: "overlap",
				Msg: fmt.Sprintf("cue %d starts at %s while cue %d shows until %s (%s overlap)", i+1, FormatTimestamp(c.StartMS), i, FormatTimestamp(p.EndMS), fmtSeconds(p.EndMS-c.StartMS))})
		}
	}
	return out
}

// Normalize returns the cues sorted by start time with overlaps removed: a
// cue that overlaps the next one ends when the next one starts, and cues
// that start at the same moment are merged into one (their lines stacked).
// Cues without a positive duration are dropped. The input is not modified.
// After Normalize, [Lint] reports nothing.
func Normalize(cues []Cue) []Cue {
	sorted := make([]Cue, 0, len(cues))
	for _, c := range cues {
		if c.EndMS > c.StartMS {
			sorted = append(sorted, c)
		}
	}
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].StartMS < sorted[j].StartMS })
	out := make([]Cue, 0, len(sorted))
	for _, c := range sorted {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if c.StartMS == p.StartMS {
				p.EndMS = max(p.EndMS, c.EndMS)
				switch {
				case p.Text == "":
					p.Text = c.Text
				case c.Text != "":
					p.Text += "\n" + c.Text
				}
				continue
			}
			if p.EndMS > c.StartMS {
				p.EndMS = c.StartMS
			}
		}
		out = append(out, c)
	}
	return out
}
