package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// probeTimeout bounds one ffprobe run when the caller's context has no
// earlier deadline: ffprobe only reads headers and a few seconds of packets,
// so a minute means the file or the disk is pathological.
const probeTimeout = time.Minute

// allowedDemuxers is the ffmpeg format_whitelist for every input we open.
// It names audio/video containers only: playlist and script demuxers (hls,
// concat, ffconcat, image2 patterns) could otherwise make ffmpeg read other
// files or the network on behalf of whoever crafted the upload.
const allowedDemuxers = "mov,mp4,m4a,3gp,matroska,webm,avi,mpegts,mpeg,asf,flv,mxf,dv," +
	"mp3,wav,w64,flac,ogg,aac,aiff,caf,amr"

// Probe is what ffprobe found in a file, reduced to what validation and
// transcoding need. Width and Height are the display size: after applying
// the rotation metadata and the sample aspect ratio, as a viewer sees it.
type Probe struct {
	Duration   time.Duration
	HasVideo   bool
	HasAudio   bool
	Width      int
	Height     int
	Rotation   int // clockwise degrees the player must rotate: 0, 90, 180 or 270
	VideoCodec string
	AudioCodec string
	// VideoProfile and VideoLevel are the codec's profile ("High") and
	// level (40 for 4.0); PixelFormat is the decoded format ("yuv420p").
	// Fast start reads them to decide whether the source plays as it is.
	VideoProfile string
	VideoLevel   int
	PixelFormat  string
	// SquarePixels is false when the sample aspect ratio stretches frames.
	SquarePixels      bool
	AudioProfile      string  // "LC", "HE-AAC"… for AAC
	FrameRate         float64 // average frames per second of the video stream
	VariableFrameRate bool
	AudioChannels     int
	AudioSampleRate   int
	Streams           int
	FormatName        string
	Size              int64

	// videoIndex and audioIndex are ffmpeg stream indexes, so Transcode maps
	// exactly the streams that were validated (cover art is not video).
	videoIndex, audioIndex int
	// codedWidth and codedHeight are the stored frame size, before rotation.
	codedWidth, codedHeight int
}

// ffprobe JSON, only the fields we read.
type probeJSON struct {
	Streams []struct {
		Index             int               `json:"index"`
		CodecType         string            `json:"codec_type"`
		CodecName         string            `json:"codec_name"`
		Profile           string            `json:"profile"`
		Level             int               `json:"level"`
		PixFmt            string            `json:"pix_fmt"`
		Width             int               `json:"width"`
		Height            int               `json:"height"`
		SampleAspectRatio string            `json:"sample_aspect_ratio"`
		RFrameRate        string            `json:"r_frame_rate"`
		AvgFrameRate      string            `json:"avg_frame_rate"`
		SampleRate        string            `json:"sample_rate"`
		Channels          int               `json:"channels"`
		Duration          string            `json:"duration"`
		Disposition       map[string]int    `json:"disposition"`
		Tags              map[string]string `json:"tags"`
		SideDataList      []struct {
			SideDataType string  `json:"side_data_type"`
			Rotation     float64 `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		NbStreams  int    `json:"nb_streams"`
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
	} `json:"format"`
}

// ProbeFile runs ffprobe on path. A file a person must fix (empty, not
// media, cut short) gives a *Rejection; other errors (missing ffprobe,
// unreadable path, cancelled context) are returned wrapped.
func ProbeFile(ctx context.Context, path string) (*Probe, error) {
	abs, err := safePath(path)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("probe %s: not a regular file", path)
	}
	if st.Size() == 0 {
		return nil, reject(CodeEmpty)
	}

	out, err := runProbe(ctx, abs, ffmpeg.KwArgs{
		"show_format":  "",
		"show_streams": "",
		"of":           "json",
	})
	if err != nil {
		var exitErr *exec.ExitError
		if ctx.Err() != nil || !errors.As(err, &exitErr) {
			return nil, fmt.Errorf("probe %s: %w", path, err)
		}
		// ffprobe ran and could not read the file. A file that starts like
		// an MP4 but has no index was cut short (the index of a phone
		// recording is written last); anything else is not media we read.
		if strings.Contains(err.Error(), "moov atom not found") && looksLikeMP4(abs) {
			return nil, reject(CodeTruncated)
		}
		return nil, reject(CodeNotMedia)
	}
	var pj probeJSON
	if err := json.Unmarshal([]byte(out), &pj); err != nil {
		return nil, fmt.Errorf("probe %s: decode ffprobe output: %w", path, err)
	}
	p := fromJSON(&pj)
	p.Size = st.Size()

	if indexedContainer(p.FormatName) && p.Duration > 0 {
		end, err := lastPacketEnd(ctx, abs, p.Duration)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", path, err)
		}
		if end < p.Duration-truncationTolerance(p.Duration) {
			return nil, reject(CodeTruncated)
		}
	}
	return p, nil
}

// runProbe runs ffprobe through ffmpeg-go with the demuxer allowlist, quiet
// logging and a timeout taken from ctx. ffmpeg-go's probe cannot take a
// context, so cancellation is bounded by the timeout rather than immediate;
// ffprobe is short-lived, so that bound is small.
func runProbe(ctx context.Context, abs string, args ffmpeg.KwArgs) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	timeout := probeTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
		if timeout <= 0 {
			return "", context.DeadlineExceeded
		}
	}
	args["v"] = "error"
	args["format_whitelist"] = allowedDemuxers
	out, err := ffmpeg.ProbeWithTimeoutExec(abs, timeout, args)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("%w: %w", ctxErr, err)
		}
		return "", err
	}
	return out, nil
}

func fromJSON(pj *probeJSON) *Probe {
	p := &Probe{
		Streams:    pj.Format.NbStreams,
		FormatName: pj.Format.FormatName,
		videoIndex: -1,
		audioIndex: -1,
	}
	if p.Streams == 0 {
		p.Streams = len(pj.Streams)
	}
	dur := parseFloat(pj.Format.Duration)
	for _, s := range pj.Streams {
		switch s.CodecType {
		case "video":
			// Cover art in an MP3 or M4A is a one-picture "video" stream;
			// the file is still audio-only.
			if p.HasVideo || s.Disposition["attached_pic"] == 1 || s.Width == 0 || s.Height == 0 {
				continue
			}
			p.HasVideo = true
			p.videoIndex = s.Index
			p.VideoCodec = s.CodecName
			p.codedWidth, p.codedHeight = s.Width, s.Height
			p.VideoProfile, p.VideoLevel, p.PixelFormat = s.Profile, s.Level, s.PixFmt
			p.Rotation = rotationOf(s.Tags["rotate"], s.SideDataList)
			w := float64(s.Width)
			p.SquarePixels = true
			if num, den, ok := parseRatio(s.SampleAspectRatio); ok && num > 0 && den > 0 && num != den {
				w = w * float64(num) / float64(den)
				p.SquarePixels = false
			}
			p.Width, p.Height = int(math.Round(w)), s.Height
			if p.Rotation == 90 || p.Rotation == 270 {
				p.Width, p.Height = p.Height, p.Width
			}
			avg := rate(s.AvgFrameRate)
			r := rate(s.RFrameRate)
			if avg == 0 {
				avg = r
			}
			p.FrameRate = avg
			// r_frame_rate is the lowest rate that represents every
			// timestamp; when the average differs, frames are unevenly
			// spaced (phones record like this).
			p.VariableFrameRate = avg > 0 && r > 0 && math.Abs(r-avg)/r > 0.01
		case "audio":
			if p.HasAudio {
				continue
			}
			p.HasAudio = true
			p.audioIndex = s.Index
			p.AudioCodec = s.CodecName
			p.AudioProfile = s.Profile
			p.AudioChannels = s.Channels
			p.AudioSampleRate, _ = strconv.Atoi(s.SampleRate)
		}
		if dur == 0 {
			dur = max(dur, parseFloat(s.Duration))
		}
	}
	p.Duration = time.Duration(dur * float64(time.Second))
	return p
}

// rotationOf returns the clockwise rotation a player applies, normalised to
// 0/90/180/270. ffprobe reports the display matrix angle counter-clockwise
// (negative for the usual portrait phone clip); the old "rotate" tag is
// clockwise.
func rotationOf(tag string, side []struct {
	SideDataType string  `json:"side_data_type"`
	Rotation     float64 `json:"rotation"`
}) int {
	deg := 0.0
	found := false
	for _, sd := range side {
		if sd.SideDataType == "Display Matrix" {
			deg, found = -sd.Rotation, true
			break
		}
	}
	if !found && tag != "" {
		deg = parseFloat(tag)
	}
	r := int(math.Round(deg/90)) * 90 % 360
	if r < 0 {
		r += 360
	}
	return r
}

// indexedContainer reports whether the format stores its duration in an
// index written apart from the data, so a file cut short still claims the
// full duration. Streams like MP3 or MPEG-TS estimate their duration from
// what is there, so they need no check (and estimates would false-alarm).
func indexedContainer(formatName string) bool {
	for _, n := range strings.Split(formatName, ",") {
		switch n {
		case "mov", "matroska", "avi", "asf", "mxf":
			return true
		}
	}
	return false
}

func truncationTolerance(d time.Duration) time.Duration {
	return max(250*time.Millisecond, d/100)
}

// lastPacketEnd reads the packets of the last few seconds and returns the
// end time of the latest one. Reading seeks through the index, so it costs
// a few seconds of demuxing whatever the file's length.
func lastPacketEnd(ctx context.Context, abs string, dur time.Duration) (time.Duration, error) {
	from := max(0, dur.Seconds()-5)
	out, err := runProbe(ctx, abs, ffmpeg.KwArgs{
		"read_intervals": strconv.FormatFloat(from, 'f', 3, 64) + "%",
		"show_entries":   "packet=pts_time,duration_time",
		"of":             "csv=p=0",
	})
	if err != nil {
		var exitErr *exec.ExitError
		if ctx.Err() == nil && errors.As(err, &exitErr) {
			return 0, nil // unreadable tail: treated as cut short
		}
		return 0, fmt.Errorf("read last packets: %w", err)
	}
	end := 0.0
	for line := range strings.Lines(out) {
		f := strings.Split(strings.TrimSpace(line), ",")
		if len(f) == 0 {
			continue
		}
		pts := parseFloat(f[0])
		if len(f) > 1 {
			pts += parseFloat(f[1])
		}
		end = max(end, pts)
	}
	return time.Duration(end * float64(time.Second)), nil
}

// looksLikeMP4 reports whether the file starts with an ISO-BMFF box, i.e.
// it is an MP4/MOV whose index is missing rather than some other file.
func looksLikeMP4(abs string) bool {
	f, err := os.Open(abs)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 8)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	switch string(head[4:8]) {
	case "ftyp", "mdat", "moov", "free", "wide", "skip", "pnot":
		return true
	}
	return false
}

// safePath refuses paths ffmpeg could parse as an option and returns the
// absolute path, which ffmpeg can never mistake for a protocol URL.
func safePath(p string) (string, error) {
	if p == "" || strings.HasPrefix(p, "-") {
		return "", fmt.Errorf("refusing path %q: empty or starts with '-'", p)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("resolve path %q: %w", p, err)
	}
	return abs, nil
}

func parseFloat(s string) float64 {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func parseRatio(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		a, b, ok = strings.Cut(s, "/")
	}
	if !ok {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	d, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return n, d, true
}

func rate(s string) float64 {
	n, d, ok := parseRatio(s)
	if !ok || d == 0 || n <= 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// tail keeps the last bytes written to it: ffmpeg's stderr can be large, and
// only its end explains a failure.
type tail struct {
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// String returns at most the last max bytes, trimmed to whole lines.
func (t *tail) String() string {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimSpace(string(b))
}
