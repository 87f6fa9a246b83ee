package transcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Stitch joins the chunks of a ladder (chunkDirs[i] holds what EncodeChunk
// wrote for chunk i) and the audio of EncodeAudio (audioDir) into outDir,
// in the layout Transcode writes: master.m3u8, <rung>/index.m3u8 and
// segments, download.mp4, poster, sprite, thumbnails and waveform.
//
// The chunks of a rung are read back to back as one MPEG-TS stream (they
// carry absolute, continuous timestamps) and remuxed, not re-encoded, with
// the audio by one HLS muxer: segments are cut on the same GOP as a single
// encode, so a stitched ladder is what Transcode would have written. The
// sprite is made from the smallest rung and the poster from the top one,
// so no step decodes the full-size source twice.
func Stitch(ctx context.Context, chunkDirs []string, audioDir, outDir string, p *Probe, lp LadderPlan, opt Options) (res *Result, err error) {
	if p == nil || !p.HasVideo {
		return nil, errors.New("stitch: no video stream")
	}
	if len(chunkDirs) != len(lp.Chunks) || len(chunkDirs) == 0 {
		return nil, fmt.Errorf("stitch: %d chunk directories for %d chunks", len(chunkDirs), len(lp.Chunks))
	}
	abs := make([]string, len(chunkDirs))
	for i, d := range chunkDirs {
		if abs[i], err = safePath(d); err != nil {
			return nil, fmt.Errorf("stitch: %w", err)
		}
		// '|' separates the parts of ffmpeg's concat protocol.
		if strings.ContainsAny(abs[i], "|%") {
			return nil, fmt.Errorf("stitch: refusing chunk directory %q", d)
		}
	}
	absOut, err := safePath(outDir)
	if err != nil {
		return nil, fmt.Errorf("stitch: %w", err)
	}
	if strings.Contains(absOut, "%") {
		return nil, fmt.Errorf("stitch: refusing output directory %q: contains '%%'", outDir)
	}
	var absAudio string
	if p.HasAudio {
		if absAudio, err = safePath(audioDir); err != nil {
			return nil, fmt.Errorf("stitch: %w", err)
		}
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	created, err := prepareDir(absOut)
	if err != nil {
		return nil, fmt.Errorf("stitch: %w", err)
	}
	defer func() {
		if err != nil {
			cleanDir(absOut, created)
		}
	}()
	pl := makePlan(p, opt)
	for _, r := range pl.rungs {
		if err := os.MkdirAll(filepath.Join(absOut, r.Name), 0o755); err != nil {
			return nil, fmt.Errorf("stitch: %w", err)
		}
	}
	if err := run(ctx, ffmpegJob{stream: globalArgs(stitchCommand(abs, absAudio, absOut, p, pl, lp, opt), false)}); err != nil {
		return nil, fmt.Errorf("stitch: %w", err)
	}
	if err := stitchCompanions(ctx, absOut, pl, lp); err != nil {
		return nil, fmt.Errorf("stitch: %w", err)
	}
	if p.HasAudio {
		b, err := os.ReadFile(filepath.Join(absAudio, waveformName))
		if err != nil {
			return nil, fmt.Errorf("stitch: %w", err)
		}
		if err := os.WriteFile(filepath.Join(absOut, waveformName), b, 0o644); err != nil {
			return nil, fmt.Errorf("stitch: %w", err)
		}
	}
	res, err = finish(ctx, "", absOut, p, pl, opt, nil)
	if err != nil {
		return nil, fmt.Errorf("stitch: %w", err)
	}
	return res, nil
}

// stitchCommand remuxes every rung's chunks and the audio into HLS.
func stitchCommand(chunkDirs []string, absAudio, absOut string, p *Probe, pl plan, lp LadderPlan, opt Options) *ffmpeg.Stream {
	var streams []*ffmpeg.Stream
	var vsm []string
	hlsArgs := ffmpeg.KwArgs{
		"f":                     "hls",
		"c":                     "copy",
		"hls_time":              opt.SegmentSeconds,
		"hls_playlist_type":     "vod",
		"hls_segment_type":      "mpegts",
		"hls_flags":             "independent_segments",
		"hls_segment_filename":  filepath.Join(absOut, "%v", "seg_%05d.ts"),
		"master_pl_name":        masterName,
		"map_metadata":          "-1",
		"map_chapters":          "-1",
		"max_muxing_queue_size": 4096,
	}
	audio := map[int]*ffmpeg.Stream{}
	if p.HasAudio {
		for _, br := range audioRates(pl) {
			args := ffmpeg.KwArgs{"format_whitelist": "mov,mp4,m4a", "protocol_whitelist": "file"}
			if lp.VideoStart > 0 {
				// The single encode starts the video this late after
				// the audio; the chunks lost that when their own start
				// was taken as zero.
				args["itsoffset"] = strconv.FormatFloat(-lp.VideoStart, 'f', 6, 64)
			}
			audio[br] = ffmpeg.Input(filepath.Join(absAudio, audioName(br)), args).Audio()
		}
	}
	for i, r := range pl.rungs {
		parts := make([]string, len(chunkDirs))
		for k, d := range chunkDirs {
			parts[k] = filepath.Join(d, chunkName(r.Name))
		}
		v := ffmpeg.Input("concat:"+strings.Join(parts, "|"), ffmpeg.KwArgs{
			"f": "mpegts", "protocol_whitelist": "concat,file",
		}).Video()
		streams = append(streams, v)
		entry := fmt.Sprintf("v:%d", i)
		if a, ok := audio[r.AudioBitrate]; ok {
			streams = append(streams, a)
			entry += fmt.Sprintf(",a:%d", i)
		}
		vsm = append(vsm, entry+",name:"+r.Name)
	}
	hlsArgs["var_stream_map"] = strings.Join(vsm, " ")
	return ffmpeg.Output(streams, filepath.Join(absOut, "%v", "index.m3u8"), hlsArgs)
}

// stitchCompanions makes the sprite from the smallest stitched rung and the
// poster from the top one.
func stitchCompanions(ctx context.Context, absOut string, pl plan, lp LadderPlan) error {
	low, top := pl.rungs[0], pl.rungs[len(pl.rungs)-1]
	hls := ffmpeg.KwArgs{"f": "hls", "protocol_whitelist": "file", "threads": 2}
	sprite := ffmpeg.Input(filepath.Join(absOut, low.Name, "index.m3u8"), hls).Video().
		Filter("fps", nil, ffmpeg.KwArgs{"fps": "1/" + strconv.Itoa(pl.interval), "eof_action": "pass"}).
		Filter("scale", nil, ffmpeg.KwArgs{"w": pl.thumbW, "h": pl.thumbH}).
		Filter("setsar", ffmpeg.Args{"1"}).
		Filter("tile", ffmpeg.Args{fmt.Sprintf("%dx%d", pl.cols, pl.rows)}).
		Output(filepath.Join(absOut, spriteName), ffmpeg.KwArgs{"frames:v": 1, "update": 1, "q:v": 5, "threads": 1})
	if err := run(ctx, ffmpegJob{stream: globalArgs(sprite, false)}); err != nil {
		return fmt.Errorf("sprite: %w", err)
	}
	frame := min(pl.posterFrame, max(lp.Frames-1, 0))
	ph := ffmpeg.KwArgs{"f": "hls", "protocol_whitelist": "file", "threads": 2,
		"ss": strconv.FormatFloat(float64(frame)/pl.fpsValue, 'f', 3, 64)}
	poster := ffmpeg.Input(filepath.Join(absOut, top.Name, "index.m3u8"), ph).Video().
		Output(filepath.Join(absOut, posterName), ffmpeg.KwArgs{"frames:v": 1, "update": 1, "q:v": 3})
	if err := run(ctx, ffmpegJob{stream: globalArgs(poster, false)}); err != nil {
		return fmt.Errorf("poster: %w", err)
	}
	return nil
}
