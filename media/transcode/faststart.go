package transcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// StartPath is how a clip first becomes playable, before its full ladder.
type StartPath string

const (
	// StartCopy packages the source's own H.264 and AAC streams as an HLS
	// rendition without re-encoding them: seconds, at any length.
	StartCopy StartPath = "copy"
	// StartPreview encodes one small rendition with a fast preset first.
	StartPreview StartPath = "preview"
	// StartLadder goes straight to the full encode: audio-only clips,
	// whose one AAC rendition is as quick to make as a preview.
	StartLadder StartPath = "ladder"
)

// StartPlan is the path PlanStart chose and why, in words for the logs.
type StartPlan struct {
	Path   StartPath
	Reason string
}

// Limits of what plays in every browser as it was recorded.
const (
	// MaxCopySegment bounds the segments of a copied rendition. Copied
	// segments can only start at the source's keyframes; a player must
	// fetch a whole segment before it can show a frame in it, so longer
	// ones make seeking slow.
	MaxCopySegment = 10*time.Second + 500*time.Millisecond
	maxCopyHeight  = 2160
	maxCopyFPS     = 60.5
)

// copyProfiles are the H.264 profiles every browser's decoder takes (not
// High 10, 4:2:2 or 4:4:4, which phones and cameras can also write).
var copyProfiles = map[string]bool{"constrained baseline": true, "baseline": true, "main": true, "high": true}

// PlanStart decides from the probe alone whether the source can be played
// as it is. A StartCopy plan can still fail when the file is packaged
// (keyframes too far apart, see PackageSource), and then falls back to
// StartPreview.
func PlanStart(p *Probe) StartPlan {
	preview := func(format string, args ...any) StartPlan {
		return StartPlan{Path: StartPreview, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case p == nil || (!p.HasVideo && !p.HasAudio):
		return StartPlan{Path: StartLadder, Reason: "no audio or video stream"}
	case !p.HasVideo:
		return StartPlan{Path: StartLadder, Reason: "audio only: the one AAC rendition is quick to make"}
	case p.VideoCodec != "h264":
		return preview("%s video must be encoded for browsers", strings.ToUpper(p.VideoCodec))
	case !copyProfiles[strings.ToLower(p.VideoProfile)]:
		return preview("H.264 profile %q is not played by every browser", p.VideoProfile)
	case p.PixelFormat != "yuv420p" && p.PixelFormat != "yuvj420p":
		return preview("pixel format %s (not 8-bit 4:2:0) must be encoded", p.PixelFormat)
	case p.Rotation != 0:
		// HLS's MPEG-TS segments have no place for the rotation, so the
		// picture would play sideways.
		return preview("rotated %d° in metadata, which HLS segments cannot carry", p.Rotation)
	case !p.SquarePixels:
		return preview("non-square pixels must be resized")
	case p.Height > maxCopyHeight || p.Width > maxCopyHeight*16/9+1:
		return preview("%dx%d is larger than school laptops decode", p.Width, p.Height)
	case p.FrameRate > maxCopyFPS:
		return preview("%.0f frames per second is more than browsers play smoothly", p.FrameRate)
	case p.HasAudio && p.AudioCodec != "aac":
		return preview("%s audio must be encoded for browsers", strings.ToUpper(p.AudioCodec))
	case p.HasAudio && p.AudioProfile != "" && p.AudioProfile != "LC" && !strings.HasPrefix(p.AudioProfile, "HE-AAC"):
		return preview("AAC profile %q is not played by every browser", p.AudioProfile)
	case p.HasAudio && p.AudioChannels > 2:
		return preview("%d audio channels must be mixed down to stereo", p.AudioChannels)
	}
	audio := "no audio"
	if p.HasAudio {
		audio = "AAC " + p.AudioProfile
	}
	return StartPlan{Path: StartCopy, Reason: fmt.Sprintf("H.264 %s %s with %s plays as recorded", p.VideoProfile, p.PixelFormat, strings.TrimSpace(audio))}
}

// NotCopyable reports that a source PlanStart accepted could not be
// packaged as it is after all; the caller encodes a preview instead.
type NotCopyable struct{ Reason string }

func (e *NotCopyable) Error() string { return "source cannot be played as recorded: " + e.Reason }

// SourceRendition names the rendition PackageSource writes.
const SourceRendition = "source"

// PreviewRung is the rendition a preview plan encodes first: small enough
// to encode several times faster than real time on one core.
var PreviewRung = Rung{Name: "preview", Height: 360, VideoBitrate: 800_000, AudioBitrate: 96_000}

// PreviewOptions turns opt into the options of a preview encode: the one
// PreviewRung with x264's superfast preset, in 2-second segments, so the
// first ones offered for playback (readySegments) are a few seconds of
// encoding away.
func PreviewOptions(opt Options) Options {
	opt.Ladder = []Rung{PreviewRung}
	opt.Preset = "superfast"
	opt.SegmentSeconds = 2
	return opt
}

// PackageSource writes the source's video and audio, not re-encoded, as
// the HLS rendition "source" (segments cut at the source's keyframes),
// with master.m3u8 and poster.jpg, into outDir (which must not exist or be
// empty). p must come from ProbeFile(in) and PlanStart(p) must be
// StartCopy.
//
// With progress, the rendition is an EVENT playlist offered for playback
// once its first segments are written (stream copy runs hundreds of times
// faster than real time, so that is well under a second at any length);
// without, PackageSource returns when it is done.
//
// A *NotCopyable error means the file plays but not as it is (keyframes
// further apart than MaxCopySegment before playback was offered); outDir
// is then left as it was found, as on any failure. A long gap between
// keyframes found after playback was offered only makes seeking there
// slower, and the ladder that follows replaces the rendition anyway.
func PackageSource(ctx context.Context, in, outDir string, p *Probe, opt Options, progress PackageProgress) (res *Result, err error) {
	if plan := PlanStart(p); plan.Path != StartCopy {
		return nil, &NotCopyable{Reason: plan.Reason}
	}
	absIn, absOut, err := outputPaths(in, outDir)
	if err != nil {
		return nil, fmt.Errorf("package source: %w", err)
	}
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute+p.Duration/4)
	defer cancel()
	created, err := prepareDir(absOut)
	if err != nil {
		return nil, fmt.Errorf("package source %s: %w", in, err)
	}
	defer func() {
		if err != nil {
			cleanDir(absOut, created)
		}
	}()
	dir := filepath.Join(absOut, SourceRendition)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("package source: %w", err)
	}
	started := time.Now()
	w, h := even(p.Width), even(p.Height)
	inKw := ffmpeg.KwArgs{"format_whitelist": allowedDemuxers, "protocol_whitelist": "file"}
	if opt.readRate > 0 {
		inKw["readrate"] = opt.readRate
	}
	input := ffmpeg.Input(absIn, inKw)
	streams := []*ffmpeg.Stream{input.Get(strconv.Itoa(p.videoIndex))}
	if p.HasAudio {
		streams = append(streams, input.Get(strconv.Itoa(p.audioIndex)))
	}
	kw := ffmpeg.KwArgs{
		"c":                    "copy",
		"map_metadata":         "-1",
		"f":                    "hls",
		"hls_time":             opt.SegmentSeconds,
		"hls_playlist_type":    "vod",
		"hls_segment_filename": filepath.Join(dir, "seg_%05d.ts"),
	}
	if progress != nil {
		// Segments appear under their name only when complete, and the
		// playlist is replaced by rename: a reader never sees half of one.
		kw["hls_playlist_type"] = "event"
		kw["hls_flags"] = "temp_file"
	}
	codecs := []string{avcCodec(p.VideoProfile, p.VideoLevel)}
	if p.HasAudio {
		codecs = append(codecs, aacCodec(p.AudioProfile))
	}
	r := &renditionOut{absOut: absOut, name: SourceRendition, width: w, height: h, codecs: strings.Join(codecs, ","), fps: p.FrameRate, hasAudio: p.HasAudio}
	job := ffmpegJob{stream: globalArgs(ffmpeg.Output(streams, r.playlist(), kw), false)}
	// Until the real rate is measured: the file's own rate, with the
	// headroom a peak needs.
	rate := 8_000_000
	if sec := p.Duration.Seconds(); sec > 0 && p.Size > 0 {
		rate = int(float64(p.Size) * 8 / sec)
	}
	offered, err := watchHLS(ctx, job, hlsWatch{
		out: r, progress: progress, poll: opt.poll, log: opt.Logger, estimate: [2]int{rate * 3 / 2, rate}, duration: p.Duration,
		// Copied segments start at the source's keyframes: a gap found
		// before playback is offered still sends the clip to a preview.
		check: copyGaps,
	})
	if err != nil {
		return nil, fmt.Errorf("package source %s: %w", in, err)
	}
	res, err = r.final(ctx, offered, copyGaps, progress)
	if err != nil {
		return nil, fmt.Errorf("package source %s: %w", in, err)
	}
	opt.Logger.Info("Source packaged for playback", "input", filepath.Base(absIn), "segments", r.segments,
		"elapsed_s", time.Since(started).Seconds(), "duration_s", res.Duration.Seconds())
	return res, nil
}

// copyGaps reports keyframes too far apart among the segments of mp known
// to be followed by another (all of them once ended).
func copyGaps(mp *MediaPlaylist, ended bool) error {
	for i, s := range mp.Segments {
		// The last segment may run to the end; only a long gap between
		// keyframes inside the clip hurts seeking.
		if s.Duration > MaxCopySegment && (i < len(mp.Segments)-1 || !ended) {
			return &NotCopyable{Reason: fmt.Sprintf("keyframes are up to %.1f s apart (at most %.1f s allowed)",
				s.Duration.Seconds(), MaxCopySegment.Seconds())}
		}
	}
	return nil
}

// outputPaths checks and resolves a job's input and output folder.
func outputPaths(in, outDir string) (absIn, absOut string, err error) {
	if absIn, err = safePath(in); err != nil {
		return "", "", err
	}
	if absOut, err = safePath(outDir); err != nil {
		return "", "", err
	}
	// ffmpeg expands % in HLS and image names; our names must stay literal.
	if strings.Contains(absOut, "%") {
		return "", "", fmt.Errorf("refusing output directory %q: contains '%%'", outDir)
	}
	return absIn, absOut, nil
}

// aacCodec is the RFC 6381 codec string of an AAC profile.
func aacCodec(profile string) string {
	switch profile {
	case "HE-AAC":
		return "mp4a.40.5"
	case "HE-AACv2":
		return "mp4a.40.29"
	}
	return codecAAC
}

// posterAt grabs the frame at (or, past the end, the first frame before) t
// at w×h, seeking in the input so a long source costs no more than a short
// one.
func posterAt(ctx context.Context, absIn, out, stream string, w, h int, t time.Duration) error {
	s := ffmpeg.Input(absIn, ffmpeg.KwArgs{
		"format_whitelist":   allowedDemuxers,
		"protocol_whitelist": "file",
		"ss":                 strconv.FormatFloat(t.Seconds(), 'f', 3, 64),
		"threads":            2,
	}).Get(stream).
		Filter("scale", nil, ffmpeg.KwArgs{"w": w, "h": h}).
		Filter("setsar", ffmpeg.Args{"1"}).
		Output(out, ffmpeg.KwArgs{"frames:v": 1, "update": 1, "q:v": 3})
	if err := run(ctx, ffmpegJob{stream: globalArgs(s, false)}); err != nil {
		return fmt.Errorf("poster: %w", err)
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		if t > 0 {
			return posterAt(ctx, absIn, out, stream, w, h, 0)
		}
		return errors.New("poster: no video frame written")
	}
	return nil
}
