package transcode

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Chunked ladder: a long source is cut into chunks on segment boundaries
// (a multiple of the fixed GOP) and each chunk is encoded into every rung
// by its own ffmpeg process, on any node. Audio is encoded once for the
// whole file, so it has no seam. Stitch then remuxes the chunks of each
// rung, in order, with the audio into the same HLS layout Transcode writes.
//
// Seamless by construction: every chunk runs the same fps filter on the
// source's own timestamps (-copyts), so output frame n is the same source
// frame whichever chunk makes it, and chunks keep their absolute
// timestamps, so the stitched stream is continuous without discontinuity
// tags. A chunk starts at an output frame that is a multiple of the GOP, so
// its first frame is a keyframe exactly where the single encode has one.

// chunkPTSOffset is added to every chunk's timestamps so that no B-frame
// decode time is negative: otherwise the muxer would shift the first chunk
// alone and break continuity. Stitch removes it again.
const chunkPTSOffset = 10 // seconds

// Keyframes is where a source's video can be entered without decoding what
// comes before: from SourceKeyframes.
type Keyframes struct {
	// Times are the presentation times of keyframe packets, ascending, in
	// the source's own clock (seconds).
	Times []float64 `json:"times"`
	// Origin is the first video presentation time; FormatStart the
	// container's start (ffmpeg seeks relative to it).
	Origin      float64 `json:"origin"`
	FormatStart float64 `json:"format_start"`
}

// SourceKeyframes lists the video keyframes of in by reading packet
// headers (no decoding): a 40-minute lesson takes about a second.
func SourceKeyframes(ctx context.Context, in string, p *Probe) (*Keyframes, error) {
	if p == nil || !p.HasVideo {
		return nil, errors.New("source keyframes: no video stream")
	}
	abs, err := safePath(in)
	if err != nil {
		return nil, fmt.Errorf("source keyframes: %w", err)
	}
	out, err := runProbe(ctx, abs, ffmpeg.KwArgs{
		"select_streams": strconv.Itoa(p.videoIndex),
		"show_entries":   "packet=pts_time,flags:format=start_time",
		"of":             "compact=p=0:nk=1",
	})
	if err != nil {
		return nil, fmt.Errorf("source keyframes of %s: %w", in, err)
	}
	return parseKeyframes(out)
}

// parseKeyframes reads ffprobe's compact output: "pts_time|flags" per
// packet, then the format's "start_time".
func parseKeyframes(out string) (*Keyframes, error) {
	kf := &Keyframes{Origin: math.Inf(1)}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		pts, flags, ok := strings.Cut(line, "|")
		if !ok {
			// The format section: its start time alone.
			if v, err := strconv.ParseFloat(line, 64); err == nil {
				kf.FormatStart = v
			}
			continue
		}
		t, err := strconv.ParseFloat(pts, 64)
		if err != nil {
			continue // "N/A": a packet without a time cannot be a border
		}
		kf.Origin = min(kf.Origin, t)
		if strings.Contains(flags, "K") {
			kf.Times = append(kf.Times, t)
		}
	}
	if len(kf.Times) == 0 || math.IsInf(kf.Origin, 1) {
		return nil, errors.New("source keyframes: no keyframe found")
	}
	sort.Float64s(kf.Times)
	return kf, nil
}

// before is the last keyframe at or before t (the first keyframe when none
// is).
func (k *Keyframes) before(t float64) float64 {
	i := sort.SearchFloat64s(k.Times, t+1e-6)
	if i == 0 {
		return k.Times[0]
	}
	return k.Times[i-1]
}

// ChunkOptions bound the chunk length. The zero value means 60 to 120 s;
// callers take a negative Min to mean that they do not chunk.
type ChunkOptions struct {
	Min, Max time.Duration
}

func (c ChunkOptions) withDefaults() ChunkOptions {
	if c.Min <= 0 {
		c.Min = 60 * time.Second
	}
	if c.Max < c.Min {
		c.Max = max(2*c.Min, 120*time.Second)
	}
	return c
}

// Chunk is one independently encoded part of the ladder: output frames
// [StartFrame, EndFrame) of the constant-rate stream; EndFrame 0 means to
// the end of the source.
type Chunk struct {
	Index      int `json:"index"`
	StartFrame int `json:"start_frame"`
	EndFrame   int `json:"end_frame"`
	// Seek is where ffmpeg enters the source (seconds after its start): the
	// keyframe at or before the chunk's first frame.
	Seek float64 `json:"seek"`
}

// LadderPlan is how a source's ladder is cut. It is plain data so a job can
// carry it to other nodes; every chunk must be encoded from the same plan.
type LadderPlan struct {
	FPS      string  `json:"fps"` // ffmpeg rational, as Transcode picks it
	FPSValue float64 `json:"fps_value"`
	GOP      int     `json:"gop"`
	// FirstFrame is the grid index of output frame 0 in the source's clock
	// (round(origin x fps)), so chunks agree on frame times.
	FirstFrame int `json:"first_frame"`
	// VideoStart is how far the video starts after the container: the audio
	// is shifted by it when stitched, as the single encode does.
	VideoStart  float64 `json:"video_start"`
	FormatStart float64 `json:"format_start"`
	// Frames is the expected frame count from the probed duration.
	Frames int     `json:"frames"`
	Chunks []Chunk `json:"chunks"`
}

// PlanLadder cuts the ladder of a video source into chunks of co.Min to
// co.Max. Borders are segment boundaries (multiples of the GOP), chosen
// where a source keyframe is closest before them so that a chunk decodes
// little it throws away; a remainder shorter than co.Min joins the last
// chunk. A clip shorter than two chunks is one chunk.
func PlanLadder(p *Probe, kf *Keyframes, opt Options, co ChunkOptions) (LadderPlan, error) {
	if p == nil || !p.HasVideo {
		return LadderPlan{}, errors.New("plan ladder: no video stream")
	}
	if kf == nil || len(kf.Times) == 0 {
		return LadderPlan{}, errors.New("plan ladder: no keyframes")
	}
	opt = opt.withDefaults(p)
	co = co.withDefaults()
	pl := makePlan(p, opt)
	lp := LadderPlan{FPS: pl.fps, FPSValue: pl.fpsValue, GOP: pl.gop, FormatStart: kf.FormatStart,
		FirstFrame: int(math.Round(kf.Origin * pl.fpsValue)),
		VideoStart: max(0, kf.Origin-kf.FormatStart)}
	lp.Frames = int(math.Round((p.Duration.Seconds() - lp.VideoStart) * pl.fpsValue))
	segs := func(d time.Duration) int {
		return max(1, int(math.Round(d.Seconds()*pl.fpsValue/float64(pl.gop))))
	}
	minF, maxF := segs(co.Min)*pl.gop, segs(co.Max)*pl.gop
	timeOf := func(frame int) float64 { return float64(lp.FirstFrame+frame) / pl.fpsValue }

	start := 0
	for {
		c := Chunk{Index: len(lp.Chunks), StartFrame: start}
		if start > 0 {
			c.Seek = max(0, kf.before(timeOf(start))-kf.FormatStart-0.001)
		}
		if lp.Frames-start < minF+minF {
			lp.Chunks = append(lp.Chunks, c) // the rest: to the end
			break
		}
		best, bestCost := 0, math.Inf(1)
		for b := start + minF; b <= start+maxF && b <= lp.Frames-minF; b += pl.gop {
			// Cost: what the next chunk decodes before its first frame.
			if cost := timeOf(b) - kf.before(timeOf(b)); cost < bestCost-1e-9 {
				best, bestCost = b, cost
			}
		}
		c.EndFrame = best
		lp.Chunks = append(lp.Chunks, c)
		start = best
	}
	return lp, nil
}

func fpsRational(s string) (num, den float64) {
	if n, d, ok := parseRatio(s); ok {
		return float64(n), float64(d)
	}
	v, _ := strconv.ParseFloat(s, 64)
	return v, 1
}

// chunkName is the file of rung r in a chunk's output directory.
func chunkName(r string) string { return r + ".ts" }

// EncodeChunk encodes chunk i of lp into every rung: outDir/<rung>.ts,
// video only, MPEG-TS with the chunk's absolute timestamps. A source that
// ends before the chunk does (a truncated download, a plan made for another
// file) is an error, never a short chunk.
func EncodeChunk(ctx context.Context, in, outDir string, p *Probe, lp LadderPlan, i int, opt Options) error {
	if p == nil || !p.HasVideo {
		return errors.New("encode chunk: no video stream")
	}
	if i < 0 || i >= len(lp.Chunks) {
		return fmt.Errorf("encode chunk %d: plan has %d chunks", i, len(lp.Chunks))
	}
	absIn, protocols, err := chunkInput(in)
	if err != nil {
		return fmt.Errorf("encode chunk %d: %w", i, err)
	}
	absOut, err := safePath(outDir)
	if err != nil {
		return fmt.Errorf("encode chunk %d: %w", i, err)
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := os.MkdirAll(absOut, 0o755); err != nil {
		return fmt.Errorf("encode chunk %d: %w", i, err)
	}
	pl := makePlan(p, opt)
	c := lp.Chunks[i]
	err = run(ctx, ffmpegJob{stream: globalArgs(chunkCommand(absIn, protocols, absOut, p, pl, lp, c, opt), false)})
	if err != nil {
		return fmt.Errorf("encode chunk %d: %w", i, err)
	}
	// The trim ends the encode at EndFrame or at the source's end,
	// whichever is first: count what came out.
	n, err := countFrames(ctx, filepath.Join(absOut, chunkName(pl.rungs[0].Name)))
	if err != nil {
		return fmt.Errorf("encode chunk %d: %w", i, err)
	}
	if c.EndFrame > 0 {
		if want := c.EndFrame - c.StartFrame; n != want {
			return fmt.Errorf("encode chunk %d: source ended early: %d of %d frames", i, n, want)
		}
	} else if want := lp.Frames - c.StartFrame; n < want-int(math.Ceil(lp.FPSValue)) {
		// The last chunk ends with the video; the probed duration may
		// count a longer audio track, hence a second of slack.
		return fmt.Errorf("encode chunk %d: source ended early: %d of about %d frames", i, n, want)
	}
	return nil
}

// chunkInput takes a local path, or an http(s) URL of the source (a
// presigned object URL): ffmpeg then reads only the byte ranges the chunk
// needs, the index and the chunk's packets, not the whole file. It returns
// what ffmpeg opens and the protocols it may use for it.
func chunkInput(in string) (string, string, error) {
	if strings.HasPrefix(in, "https://") || strings.HasPrefix(in, "http://") {
		if strings.ContainsAny(in, " \n") {
			return "", "", errors.New("refusing source URL with white space")
		}
		return in, "http,https,tcp,tls", nil
	}
	abs, err := safePath(in)
	return abs, "file", err
}

// chunkCommand is one decode of the chunk's range, split into every rung.
func chunkCommand(absIn, protocols, absOut string, p *Probe, pl plan, lp LadderPlan, c Chunk, opt Options) *ffmpeg.Stream {
	inArgs := ffmpeg.KwArgs{
		"format_whitelist":   allowedDemuxers,
		"protocol_whitelist": protocols,
		"threads":            opt.Threads,
	}
	if c.Seek > 0 {
		// Our own trim picks the frames; ffmpeg's accurate seek would trim
		// again relative to a start it computes differently under -copyts.
		inArgs["ss"] = strconv.FormatFloat(c.Seek, 'f', 6, 64)
		inArgs["noaccurate_seek"] = ""
	}
	// The fps grid starts at the grid point at or before the first decoded
	// frame (from the plan's first frame it would pad the whole skipped
	// part of the source with copies of that frame). fps pads or drops to
	// start exactly there, so its output frame j is grid point startIdx+j
	// and the chunk is a frame range of it. (Trimming by time instead
	// loses the last frame in ffmpeg 5.1.)
	startIdx := lp.FirstFrame
	if c.Seek > 0 {
		startIdx = max(startIdx, int(math.Floor((c.Seek+lp.FormatStart)*lp.FPSValue)))
	}
	num, den := fpsRational(lp.FPS)
	fpsStart := float64(startIdx) * den / num
	trim := ffmpeg.KwArgs{"start_frame": lp.FirstFrame + c.StartFrame - startIdx}
	if c.EndFrame > 0 {
		trim["end_frame"] = lp.FirstFrame + c.EndFrame - startIdx
	}
	v := ffmpeg.Input(absIn, inArgs).Get(strconv.Itoa(p.videoIndex)).
		Filter("fps", nil, ffmpeg.KwArgs{"fps": lp.FPS, "start_time": strconv.FormatFloat(fpsStart, 'f', 6, 64)}).
		Filter("trim", nil, trim).
		Filter("setpts", ffmpeg.Args{fmt.Sprintf("PTS+%d/TB", chunkPTSOffset)})
	split := v.Split()
	var outs []*ffmpeg.Stream
	for k, r := range pl.rungs {
		s := split.Get(strconv.Itoa(k)).
			Filter("scale", nil, ffmpeg.KwArgs{"w": r.width, "h": r.height}).
			Filter("setsar", ffmpeg.Args{"1"}).
			Filter("format", ffmpeg.Args{"yuv420p"})
		outs = append(outs, s.Output(filepath.Join(absOut, chunkName(r.Name)), ffmpeg.KwArgs{
			"f": "mpegts", "c:v": "libx264", "preset": opt.Preset, "crf": opt.CRF, "profile:v": "high",
			"maxrate": r.VideoBitrate, "bufsize": 2 * r.VideoBitrate,
			// The single encode's GOP, counted from the chunk's first
			// frame, which is itself on the GOP grid.
			"g": pl.gop, "keyint_min": pl.gop, "sc_threshold": 0,
			"fps_mode": "passthrough", "threads": opt.Threads, "an": "",
			"map_metadata": "-1", "map_chapters": "-1",
			"max_muxing_queue_size": 4096,
		}))
	}
	return ffmpeg.MergeOutputs(outs...).GlobalArgs("-copyts", "-filter_complex_threads", strconv.Itoa(opt.Threads))
}

// countFrames counts the video packets of a file; an empty file (ffmpeg
// had no frame to write) has none.
func countFrames(ctx context.Context, path string) (int, error) {
	if st, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("count frames: %w", err)
	} else if st.Size() == 0 {
		return 0, nil
	}
	out, err := runProbe(ctx, path, ffmpeg.KwArgs{
		"select_streams": "v:0", "count_packets": "", "show_entries": "stream=nb_read_packets", "of": "csv=p=0",
	})
	if err != nil {
		return 0, fmt.Errorf("count frames of %s: %w", filepath.Base(path), err)
	}
	// The stream line comes first; MPEG-TS adds a program section.
	first, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	n, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, fmt.Errorf("count frames of %s: %q", filepath.Base(path), out)
	}
	return n, nil
}

// Audio outputs of EncodeAudio inside its directory.
func audioName(bitrate int) string { return fmt.Sprintf("audio_%d.m4a", bitrate) }

// EncodeAudio encodes the whole source's audio once per distinct audio bit
// rate of the ladder (outDir/audio_<bps>.m4a) and writes the waveform
// (outDir/waveform.json): one job for the file, so audio has no chunk seam.
// A source without audio writes nothing.
func EncodeAudio(ctx context.Context, in, outDir string, p *Probe, opt Options) error {
	if p == nil || !p.HasAudio {
		return nil
	}
	absIn, err := safePath(in)
	if err != nil {
		return fmt.Errorf("encode audio: %w", err)
	}
	absOut, err := safePath(outDir)
	if err != nil {
		return fmt.Errorf("encode audio: %w", err)
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	if err := os.MkdirAll(absOut, 0o755); err != nil {
		return fmt.Errorf("encode audio: %w", err)
	}
	pl := makePlan(p, opt)
	rates := audioRates(pl)
	a := ffmpeg.Input(absIn, ffmpeg.KwArgs{
		"format_whitelist": allowedDemuxers, "protocol_whitelist": "file", "threads": opt.Threads,
	}).Get(strconv.Itoa(p.audioIndex)).
		Filter("aresample", nil, ffmpeg.KwArgs{"async": 1, "first_pts": 0})
	split := a.ASplit()
	var outs []*ffmpeg.Stream
	for k, br := range rates {
		outs = append(outs, split.Get(strconv.Itoa(k)).Output(filepath.Join(absOut, audioName(br)), ffmpeg.KwArgs{
			"c:a": "aac", "b:a": br, "ac": pl.channels, "ar": 48000, "vn": "",
			"map_metadata": "-1", "map_chapters": "-1",
		}))
	}
	wave := split.Get(strconv.Itoa(len(rates))).
		Filter("aresample", ffmpeg.Args{strconv.Itoa(waveformRate)}).
		Filter("aformat", nil, ffmpeg.KwArgs{"sample_fmts": "s16", "channel_layouts": "mono"})
	outs = append(outs, wave.Output("pipe:3", ffmpeg.KwArgs{"f": "s16le", "c:a": "pcm_s16le"}))

	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("encode audio: waveform pipe: %w", err)
	}
	defer pr.Close()
	var peaks []int8
	var rerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		peaks, rerr = readPeaks(pr, pl.samplesPerPixel)
	}()
	err = run(ctx, ffmpegJob{stream: globalArgs(ffmpeg.MergeOutputs(outs...), false), extra: []*os.File{pw}})
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("encode audio: %w", err)
	}
	if rerr != nil {
		return fmt.Errorf("encode audio: read waveform samples: %w", rerr)
	}
	return writeWaveform(filepath.Join(absOut, waveformName), pl.samplesPerPixel, peaks)
}

// audioRates are the distinct audio bit rates of the planned rungs.
func audioRates(pl plan) []int {
	var rates []int
	for _, r := range pl.rungs {
		if !containsInt(rates, r.AudioBitrate) {
			rates = append(rates, r.AudioBitrate)
		}
	}
	return rates
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
