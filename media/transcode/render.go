package transcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Graph is a filter graph that Render runs over its input: Filter is the
// -filter_complex text (reading [0:v:N] and [0:a:N]), Video and Audio the
// labels of its outputs ("" for a stream the input lacks).
type Graph struct {
	Filter string
	Video  string
	Audio  string
}

// Master quality: a redacted master replaces the upload, and every later
// transcode reads it, so it is encoded near-transparently.
const (
	masterCRF          = 18
	masterAudioBitrate = "192k"
)

// Render re-encodes in into an MP4 master at out through g: H.264 (CRF 18,
// yuv420p) and AAC, moov first, metadata stripped. It is how a redaction
// is burned into the file every later transcode reads. p must come from
// ProbeFile(in); progress, when not nil, receives ffmpeg's output time.
// On failure out is removed.
func Render(ctx context.Context, in, out string, p *Probe, g Graph, opt Options, progress func(time.Duration)) error {
	if p == nil || (!p.HasVideo && !p.HasAudio) {
		return errors.New("render: probe has no audio or video stream")
	}
	if (p.HasVideo && g.Video == "") || (p.HasAudio && g.Audio == "") {
		return errors.New("render: the graph must output every stream of the input")
	}
	absIn, err := safePath(in)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	absOut, err := safePath(out)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	// The graph goes in a file next to out: a plan with many keyframes
	// makes a graph longer than one command-line argument may be (128 KiB
	// on Linux).
	script := absOut + ".graph"
	if err := os.WriteFile(script, []byte(g.Filter), 0o600); err != nil {
		return fmt.Errorf("render: write filter graph: %w", err)
	}
	defer os.Remove(script)
	var maps []string
	kw := ffmpeg.KwArgs{"filter_complex_script": script, "map_metadata": "-1", "map_chapters": "-1",
		"movflags": "+faststart", "f": "mp4", "threads": opt.Threads}
	if p.HasVideo {
		maps = append(maps, bracket(g.Video))
		kw["c:v"], kw["preset"], kw["crf"], kw["pix_fmt"] = "libx264", opt.Preset, masterCRF, "yuv420p"
	}
	if p.HasAudio {
		maps = append(maps, bracket(g.Audio))
		kw["c:a"], kw["b:a"] = "aac", masterAudioBitrate
	}
	kw["map"] = maps
	s := ffmpeg.Input(absIn, ffmpeg.KwArgs{
		"format_whitelist":   allowedDemuxers,
		"protocol_whitelist": "file",
		"threads":            opt.Threads,
	}).Output(absOut, kw)
	if err := run(ctx, ffmpegJob{stream: globalArgs(s, progress != nil), progress: progress}); err != nil {
		_ = os.Remove(absOut)
		return fmt.Errorf("render %s: %w", in, err)
	}
	return nil
}

func bracket(label string) string {
	return "[" + strings.Trim(label, "[]") + "]"
}

// VideoStream is the index of the video stream the transcode reads (-1:
// none), for a Graph's [0:N] input label.
func (p *Probe) VideoStream() int {
	if !p.HasVideo {
		return -1
	}
	return p.videoIndex
}

// AudioStream is the index of the audio stream the transcode reads (-1:
// none).
func (p *Probe) AudioStream() int {
	if !p.HasAudio {
		return -1
	}
	return p.audioIndex
}
