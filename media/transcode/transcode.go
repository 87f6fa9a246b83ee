package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Rung is one rendition of the HLS ladder.
type Rung struct {
	// Name is the rendition's directory in outDir and its label ("720p").
	Name string
	// Height is the short side in pixels: 720 means 1280x720 for a
	// landscape clip and 720x1280 for a portrait one.
	Height int
	// VideoBitrate caps the video (x264 VBV maxrate), bits per second. The
	// encoder runs constant quality under that cap, so a still classroom
	// shot costs far less than the cap.
	VideoBitrate int
	// AudioBitrate is the AAC bit rate, bits per second.
	AudioBitrate int
}

// DefaultLadder is four renditions: 360p for a weak laptop on school wifi
// up to 1080p for a projector.
func DefaultLadder() []Rung {
	return []Rung{
		{Name: "360p", Height: 360, VideoBitrate: 800_000, AudioBitrate: 96_000},
		{Name: "540p", Height: 540, VideoBitrate: 1_500_000, AudioBitrate: 128_000},
		{Name: "720p", Height: 720, VideoBitrate: 2_800_000, AudioBitrate: 128_000},
		{Name: "1080p", Height: 1080, VideoBitrate: 5_000_000, AudioBitrate: 128_000},
	}
}

// Options tune one transcode. The zero value is usable: every field has a
// default.
type Options struct {
	// Threads bounds the threads ffmpeg uses for decoding, filtering and
	// each encoder. Default 2 (see the package benchmarks: on a 2-core node
	// one job with 2 threads beats two concurrent 1-thread jobs).
	Threads int
	// Timeout bounds the whole transcode. Default: 10 minutes plus four
	// times the clip's duration.
	Timeout time.Duration
	// Ladder lists the renditions, any order. Rungs taller than the
	// source are skipped; if none fits, one rendition is made at the
	// source's own size. Default DefaultLadder().
	Ladder []Rung
	// SegmentSeconds is the HLS segment length, 2 to 6. Default 4.
	SegmentSeconds int
	// SpriteInterval is the time between sprite thumbnails. Default 2 s,
	// stretched so that a clip has at most MaxThumbnails thumbnails.
	SpriteInterval time.Duration
	// MaxThumbnails bounds the sprite. Default 400.
	MaxThumbnails int
	// Preset is the x264 preset. Default "veryfast": on shared 2-core
	// nodes speed matters more than the last few percent of bit rate.
	Preset string
	// CRF is x264's constant quality (lower is better). Default 23.
	CRF int
	// Logger receives one line per step. Default slog.Default().
	Logger *slog.Logger
	// Chunk bounds the chunks of a chunked ladder (PlanLadder), for
	// callers that encode long sources in parallel. Zero: 60 to 120 s.
	Chunk ChunkOptions

	// readRate makes a packaging read its input at this multiple of real
	// time, and poll overrides packagePoll: tests of a packaging in
	// progress set them to watch it happen.
	readRate float64
	poll     time.Duration
	// hlsEvent writes EVENT playlists, segments renamed into place when
	// complete (a preview offered while it is encoded).
	hlsEvent bool
}

func (o Options) withDefaults(p *Probe) Options {
	if o.Threads <= 0 {
		o.Threads = 2
	}
	if o.Timeout <= 0 {
		o.Timeout = 10*time.Minute + 4*p.Duration
	}
	if len(o.Ladder) == 0 {
		o.Ladder = DefaultLadder()
	}
	if o.SegmentSeconds == 0 {
		o.SegmentSeconds = 4
	}
	o.SegmentSeconds = min(max(o.SegmentSeconds, 2), 6)
	if o.SpriteInterval <= 0 {
		o.SpriteInterval = 2 * time.Second
	}
	if o.MaxThumbnails <= 0 {
		o.MaxThumbnails = 400
	}
	if o.Preset == "" {
		o.Preset = "veryfast"
	}
	if o.CRF <= 0 {
		o.CRF = 23
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Rendition is one HLS rendition Transcode wrote.
type Rendition struct {
	Name      string
	Width     int // 0 for audio-only
	Height    int
	Bandwidth int // peak bits per second, as in the master playlist
	Playlist  string
}

// Result lists what Transcode wrote. Paths are relative to outDir and use
// forward slashes; an empty path means not applicable (no poster for an
// audio-only file, no waveform for a silent clip).
type Result struct {
	Duration          time.Duration
	Width, Height     int
	HasVideo          bool
	HasAudio          bool
	Renditions        []Rendition
	Master            string
	MP4               string
	Poster            string
	Sprite            string
	SpriteVTT         string
	Waveform          string
	FrameRate         float64
	SpriteThumbWidth  int
	SpriteThumbHeight int
}

// Output names inside outDir.
const (
	masterName   = "master.m3u8"
	mp4Name      = "download.mp4"
	posterName   = "poster.jpg"
	spriteName   = "sprite.jpg"
	thumbsName   = "thumbs.vtt"
	waveformName = "waveform.json"
)

// Share of the progress bar given to the main encode; the rest covers the
// poster, the MP4 remux and the small files.
const encodeShare = 95.0

// Transcode turns in into HLS renditions and companions in outDir. p must
// come from ProbeFile(in) and have passed Validate.
//
// outDir must not exist or be empty. On success it holds master.m3u8,
// <rung>/index.m3u8 and segments, download.mp4 (faststart), poster.jpg,
// sprite.jpg and thumbs.vtt (video only) and waveform.json (audio only).
// On failure everything Transcode wrote is removed, and outDir too if
// Transcode created it: a failed job leaves nothing behind to clean.
//
// progress, when not nil, receives increasing percentages ending with
// exactly 100 on success; it is called from ffmpeg's reader goroutine and
// must return quickly.
func Transcode(ctx context.Context, in, outDir string, p *Probe, opt Options, progress func(percent float64)) (res *Result, err error) {
	if p == nil || (!p.HasVideo && !p.HasAudio) {
		return nil, errors.New("transcode: probe has no audio or video stream")
	}
	absIn, absOut, err := outputPaths(in, outDir)
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()

	created, err := prepareDir(absOut)
	if err != nil {
		return nil, fmt.Errorf("transcode %s: %w", in, err)
	}
	defer func() {
		if err != nil {
			cleanDir(absOut, created)
		}
	}()

	rep := newReporter(progress)
	plan := makePlan(p, opt)
	log := opt.Logger.With("input", filepath.Base(absIn))
	log.Info("Transcoding started", "renditions", len(plan.rungs), "threads", opt.Threads,
		"duration_s", p.Duration.Seconds(), "fps", plan.fps)
	started := time.Now()

	peaks, err := encode(ctx, absIn, absOut, p, plan, opt, func(t time.Duration) {
		if p.Duration > 0 {
			rep.set(encodeShare * t.Seconds() / p.Duration.Seconds())
		}
	})
	if err != nil {
		return nil, fmt.Errorf("transcode %s: %w", in, err)
	}
	rep.set(encodeShare)
	log.Debug("Encoding finished", "elapsed_s", time.Since(started).Seconds())

	res, err = finish(ctx, absIn, absOut, p, plan, opt, peaks)
	if err != nil {
		return nil, fmt.Errorf("transcode %s: %w", in, err)
	}
	log.Info("Transcoding finished", "elapsed_s", time.Since(started).Seconds(),
		"duration_s", res.Duration.Seconds())
	rep.done()
	return res, nil
}

// encode runs the one ffmpeg process that decodes the input once and
// writes every rendition, the sprite and the waveform samples.
func encode(ctx context.Context, absIn, absOut string, p *Probe, pl plan, opt Options, onTime func(time.Duration)) ([]int8, error) {
	for _, r := range pl.rungs {
		if err := os.MkdirAll(filepath.Join(absOut, r.Name), 0o755); err != nil {
			return nil, fmt.Errorf("create rendition dir: %w", err)
		}
	}
	var (
		peaks []int8
		wg    sync.WaitGroup
		extra []*os.File
		rerr  error
	)
	if p.HasAudio {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("waveform pipe: %w", err)
		}
		defer pr.Close()
		extra = []*os.File{pw}
		wg.Add(1)
		go func() {
			defer wg.Done()
			peaks, rerr = readPeaks(pr, pl.samplesPerPixel)
		}()
	}
	cmd := globalArgs(encodeCommand(absIn, absOut, p, pl, opt, true), true)
	err := run(ctx, ffmpegJob{stream: cmd, progress: onTime, extra: extra})
	for _, f := range extra {
		f.Close() // our copy of the write end; ffmpeg's closed when it exited
	}
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, fmt.Errorf("read waveform samples: %w", rerr)
	}
	return peaks, nil
}

// LadderCommand returns the ffmpeg arguments (without "ffmpeg") that encode
// the HLS renditions alone, exactly as Transcode does but without the
// sprite, the waveform and progress reporting. It exists so an operator can
// reproduce a job by hand and so the benchmark can compare Transcode with
// bare ffmpeg.
func LadderCommand(in, outDir string, p *Probe, opt Options) ([]string, error) {
	absIn, err := safePath(in)
	if err != nil {
		return nil, err
	}
	absOut, err := safePath(outDir)
	if err != nil {
		return nil, err
	}
	opt = opt.withDefaults(p)
	return globalArgs(encodeCommand(absIn, absOut, p, makePlan(p, opt), opt, false), false).GetArgs(), nil
}

// encodeCommand builds the main ffmpeg command line with ffmpeg-go: one
// decode, fps normalisation, a split into every rendition (and the sprite),
// one HLS muxer with var_stream_map. With extras, the sprite goes to
// sprite.jpg and the waveform samples to fd 3.
func encodeCommand(absIn, absOut string, p *Probe, pl plan, opt Options, extras bool) *ffmpeg.Stream {
	inKw := ffmpeg.KwArgs{
		"format_whitelist":   allowedDemuxers,
		"protocol_whitelist": "file",
		"threads":            opt.Threads,
	}
	if opt.readRate > 0 {
		inKw["readrate"] = opt.readRate
	}
	in := ffmpeg.Input(absIn, inKw)
	var videoOut, audioOut []*ffmpeg.Stream
	var spriteOut, posterOut, waveOut *ffmpeg.Stream
	if p.HasVideo {
		// fps makes variable frame rate input constant, so every
		// rendition gets the same frames and the same keyframes.
		v := in.Get(strconv.Itoa(p.videoIndex)).Filter("fps", ffmpeg.Args{pl.fps})
		split := v.Split()
		for i, r := range pl.rungs {
			videoOut = append(videoOut, split.Get(strconv.Itoa(i)).
				Filter("scale", nil, ffmpeg.KwArgs{"w": r.width, "h": r.height}).
				Filter("setsar", ffmpeg.Args{"1"}).
				Filter("format", ffmpeg.Args{"yuv420p"}))
		}
		if extras {
			// select passes exactly one frame, so the poster output ends
			// after it without holding back the other outputs.
			top := pl.rungs[len(pl.rungs)-1]
			posterOut = split.Get(strconv.Itoa(len(pl.rungs)+1)).
				Filter("select", ffmpeg.Args{fmt.Sprintf("eq(n,%d)", pl.posterFrame)}).
				Filter("scale", nil, ffmpeg.KwArgs{"w": top.width, "h": top.height}).
				Filter("setsar", ffmpeg.Args{"1"})
			spriteOut = split.Get(strconv.Itoa(len(pl.rungs))).
				Filter("fps", nil, ffmpeg.KwArgs{"fps": "1/" + strconv.Itoa(pl.interval), "eof_action": "pass"}).
				Filter("scale", nil, ffmpeg.KwArgs{"w": pl.thumbW, "h": pl.thumbH}).
				Filter("setsar", ffmpeg.Args{"1"}).
				Filter("tile", ffmpeg.Args{fmt.Sprintf("%dx%d", pl.cols, pl.rows)})
		}
	}
	if p.HasAudio {
		// async fills gaps and first_pts aligns the start, so phone
		// recordings with dropped audio stay in sync with the video.
		a := in.Get(strconv.Itoa(p.audioIndex)).
			Filter("aresample", nil, ffmpeg.KwArgs{"async": 1, "first_pts": 0})
		n := len(pl.rungs)
		if extras {
			n++
		}
		if n == 1 {
			audioOut = []*ffmpeg.Stream{a}
		} else {
			split := a.ASplit()
			for i := range pl.rungs {
				audioOut = append(audioOut, split.Get(strconv.Itoa(i)))
			}
			if extras {
				waveOut = split.Get(strconv.Itoa(len(pl.rungs))).
					Filter("aresample", ffmpeg.Args{strconv.Itoa(waveformRate)}).
					Filter("aformat", nil, ffmpeg.KwArgs{"sample_fmts": "s16", "channel_layouts": "mono"})
			}
		}
	}

	hlsArgs := ffmpeg.KwArgs{
		"f":                    "hls",
		"hls_time":             opt.SegmentSeconds,
		"hls_playlist_type":    "vod",
		"hls_segment_type":     "mpegts",
		"hls_flags":            "independent_segments",
		"hls_segment_filename": filepath.Join(absOut, "%v", "seg_%05d.ts"),
		// We rewrite ffmpeg's master playlist with measured bandwidths, but
		// keep its CODECS, which it reads from the encoders' headers.
		"master_pl_name":        masterName,
		"map_metadata":          "-1", // phones store GPS positions in metadata
		"map_chapters":          "-1",
		"threads":               opt.Threads,
		"max_muxing_queue_size": 4096,
	}
	if opt.hlsEvent {
		hlsArgs["hls_playlist_type"] = "event"
		hlsArgs["hls_flags"] = "independent_segments+temp_file"
	}
	var hlsStreams []*ffmpeg.Stream
	var vsm []string
	for i, r := range pl.rungs {
		var parts []string
		if p.HasVideo {
			hlsStreams = append(hlsStreams, videoOut[i])
			parts = append(parts, fmt.Sprintf("v:%d", i))
			hlsArgs[fmt.Sprintf("maxrate:v:%d", i)] = r.VideoBitrate
			hlsArgs[fmt.Sprintf("bufsize:v:%d", i)] = 2 * r.VideoBitrate
		}
		if p.HasAudio {
			hlsStreams = append(hlsStreams, audioOut[i])
			parts = append(parts, fmt.Sprintf("a:%d", i))
			hlsArgs[fmt.Sprintf("b:a:%d", i)] = r.AudioBitrate
		}
		vsm = append(vsm, strings.Join(append(parts, "name:"+r.Name), ","))
	}
	hlsArgs["var_stream_map"] = strings.Join(vsm, " ")
	if p.HasVideo {
		hlsArgs["c:v"] = "libx264"
		hlsArgs["preset"] = opt.Preset
		hlsArgs["crf"] = opt.CRF
		hlsArgs["profile:v"] = "high"
		// Same GOP on every rendition and no scene-cut keyframes: segment
		// boundaries line up across renditions, so switching is seamless.
		hlsArgs["g"] = pl.gop
		hlsArgs["keyint_min"] = pl.gop
		hlsArgs["sc_threshold"] = 0
	}
	if p.HasAudio {
		hlsArgs["c:a"] = "aac"
		hlsArgs["ac"] = pl.channels
		hlsArgs["ar"] = 48000
	}
	outputs := []*ffmpeg.Stream{ffmpeg.Output(hlsStreams, filepath.Join(absOut, "%v", "index.m3u8"), hlsArgs)}
	if spriteOut != nil {
		outputs = append(outputs, spriteOut.Output(filepath.Join(absOut, spriteName), ffmpeg.KwArgs{
			"frames:v": 1, "update": 1, "q:v": 5, "threads": 1,
		}))
	}
	if posterOut != nil {
		outputs = append(outputs, posterOut.Output(filepath.Join(absOut, posterName), ffmpeg.KwArgs{
			"frames:v": 1, "update": 1, "q:v": 3, "threads": 1,
		}))
	}
	if waveOut != nil {
		outputs = append(outputs, waveOut.Output("pipe:3", ffmpeg.KwArgs{"f": "s16le", "c:a": "pcm_s16le"}))
	}
	return ffmpeg.MergeOutputs(outputs...).GlobalArgs("-filter_complex_threads", strconv.Itoa(opt.Threads))
}

// finish writes the master playlist, poster, MP4, thumbnail track and
// waveform once the renditions exist.
func finish(ctx context.Context, absIn, absOut string, p *Probe, pl plan, opt Options, peaks []int8) (*Result, error) {
	res := &Result{HasVideo: p.HasVideo, HasAudio: p.HasAudio, Master: masterName, FrameRate: pl.fpsValue}
	ffCodecs, err := masterCodecs(filepath.Join(absOut, masterName))
	if err != nil {
		return nil, err
	}
	var variants []variant
	for _, r := range pl.rungs {
		dir := filepath.Join(absOut, r.Name)
		mp, err := ParseMediaPlaylist(filepath.Join(dir, "index.m3u8"))
		if err != nil {
			return nil, err
		}
		if len(mp.Segments) == 0 || !mp.Ended {
			return nil, fmt.Errorf("rendition %s: incomplete playlist", r.Name)
		}
		peak, avg, err := bandwidth(dir, mp)
		if err != nil {
			return nil, fmt.Errorf("rendition %s: %w", r.Name, err)
		}
		uri := r.Name + "/index.m3u8"
		codecs := ffCodecs[uri]
		if codecs == "" {
			// ffmpeg leaves CODECS out when it cannot tell; ask ffprobe.
			var cs []string
			if p.HasVideo {
				c, err := segmentCodec(ctx, filepath.Join(dir, mp.Segments[0].URI))
				if err != nil {
					return nil, fmt.Errorf("rendition %s: %w", r.Name, err)
				}
				cs = append(cs, c)
			}
			if p.HasAudio {
				cs = append(cs, codecAAC)
			}
			codecs = strings.Join(cs, ",")
		}
		variants = append(variants, variant{uri: uri, peak: peak, average: avg,
			width: r.width, height: r.height, codecs: codecs, frameRate: pl.fpsValue})
		res.Renditions = append(res.Renditions, Rendition{Name: r.Name, Width: r.width, Height: r.height,
			Bandwidth: peak, Playlist: uri})
		res.Duration = max(res.Duration, mp.Duration())
	}
	if err := writeMaster(filepath.Join(absOut, masterName), variants); err != nil {
		return nil, err
	}
	top := pl.rungs[len(pl.rungs)-1]
	res.Width, res.Height = top.width, top.height

	if err := remuxMP4(ctx, filepath.Join(absOut, top.Name, "index.m3u8"), filepath.Join(absOut, mp4Name)); err != nil {
		return nil, err
	}
	res.MP4 = mp4Name

	if p.HasVideo {
		if st, err := os.Stat(filepath.Join(absOut, posterName)); (err != nil || st.Size() == 0) && absIn != "" {
			// No frame at the chosen instant (a video track shorter than
			// its audio): take the first frame instead.
			opt.Logger.Info("Poster frame missing, using the first frame", "frame", pl.posterFrame)
			if err := poster(ctx, absIn, filepath.Join(absOut, posterName), p, top); err != nil {
				return nil, err
			}
		}
		res.Poster = posterName
		if _, err := os.Stat(filepath.Join(absOut, spriteName)); err != nil {
			return nil, fmt.Errorf("sprite: %w", err)
		}
		if err := writeThumbsVTT(filepath.Join(absOut, thumbsName), spriteName, pl, res.Duration); err != nil {
			return nil, err
		}
		res.Sprite, res.SpriteVTT = spriteName, thumbsName
		res.SpriteThumbWidth, res.SpriteThumbHeight = pl.thumbW, pl.thumbH
	}
	if p.HasAudio {
		// Stitch brings the waveform of the audio job; Transcode's outDir
		// starts empty, so it never finds one there.
		if _, err := os.Stat(filepath.Join(absOut, waveformName)); err != nil {
			if err := writeWaveform(filepath.Join(absOut, waveformName), pl.samplesPerPixel, peaks); err != nil {
				return nil, err
			}
		}
		res.Waveform = waveformName
	}
	return res, nil
}

// segmentCodec reads the H.264 profile and level of a written segment,
// the truth the CODECS attribute must state.
func segmentCodec(ctx context.Context, seg string) (string, error) {
	out, err := runProbe(ctx, seg, ffmpeg.KwArgs{
		"select_streams": "v:0",
		"show_entries":   "stream=profile,level",
		"of":             "json",
	})
	if err != nil {
		return "", fmt.Errorf("probe segment: %w", err)
	}
	var v struct {
		Streams []struct {
			Profile string `json:"profile"`
			Level   int    `json:"level"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || len(v.Streams) == 0 {
		return "", fmt.Errorf("probe segment: no video stream in %s", filepath.Base(seg))
	}
	return avcCodec(v.Streams[0].Profile, v.Streams[0].Level), nil
}

// remuxMP4 copies the top rendition into one MP4 with its index first, so
// a download starts playing before it has fully arrived. No re-encode.
func remuxMP4(ctx context.Context, playlist, out string) error {
	args := ffmpeg.KwArgs{"c": "copy", "movflags": "+faststart"}
	s := ffmpeg.Input(playlist, ffmpeg.KwArgs{
		"f":                  "hls",
		"protocol_whitelist": "file",
	}).Output(out, args)
	if err := run(ctx, ffmpegJob{stream: globalArgs(s, false)}); err != nil {
		return fmt.Errorf("download mp4: %w", err)
	}
	return nil
}

// poster grabs the first video frame at the top rendition's size; used
// when the frame picked during the encode did not exist.
func poster(ctx context.Context, absIn, out string, p *Probe, top plannedRung) error {
	s := ffmpeg.Input(absIn, ffmpeg.KwArgs{
		"format_whitelist":   allowedDemuxers,
		"protocol_whitelist": "file",
		"threads":            2,
	}).Get(strconv.Itoa(p.videoIndex)).
		Filter("scale", nil, ffmpeg.KwArgs{"w": top.width, "h": top.height}).
		Filter("setsar", ffmpeg.Args{"1"}).
		Output(out, ffmpeg.KwArgs{"frames:v": 1, "update": 1, "q:v": 3})
	if err := run(ctx, ffmpegJob{stream: globalArgs(s, false)}); err != nil {
		return fmt.Errorf("poster: %w", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		return errors.New("poster: no video frame written")
	}
	return nil
}

// prepareDir makes sure dir exists and is empty, and reports whether we
// created it (and so may remove it on failure).
func prepareDir(dir string) (created bool, err error) {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create output dir: %w", err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read output dir: %w", err)
	case len(entries) > 0:
		return false, fmt.Errorf("output dir %s is not empty", dir)
	}
	return false, nil
}

func cleanDir(dir string, created bool) {
	if created {
		_ = os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// reporter forwards progress only when it increases, so callers can store
// it without checks.
type reporter struct {
	mu   sync.Mutex
	last float64
	fn   func(float64)
}

func newReporter(fn func(float64)) *reporter { return &reporter{last: -1, fn: fn} }

func (r *reporter) set(pct float64) {
	if r.fn == nil {
		return
	}
	// Until done, stay below 100: ffmpeg's clock can run past the probed
	// duration (audio longer than video), and 100 must mean finished.
	pct = math.Min(math.Max(pct, 0), encodeShare)
	// One decimal is all a progress bar shows; fewer callbacks.
	r.report(math.Floor(pct*10) / 10)
}

// done reports 100: everything is written.
func (r *reporter) done() { r.report(100) }

func (r *reporter) report(pct float64) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if pct <= r.last {
		return
	}
	r.last = pct
	r.fn(pct)
}
