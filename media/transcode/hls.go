package transcode

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MediaPlaylist is the part of an HLS media playlist we check and measure.
type MediaPlaylist struct {
	TargetDuration int
	Segments       []Segment
	Ended          bool // has #EXT-X-ENDLIST
}

// Segment is one media segment: its URI relative to the playlist and its
// EXTINF duration.
type Segment struct {
	URI      string
	Duration time.Duration
}

// Duration is the sum of the segment durations: the playable length.
func (m *MediaPlaylist) Duration() time.Duration {
	var d time.Duration
	for _, s := range m.Segments {
		d += s.Duration
	}
	return d
}

// ParseMediaPlaylist reads an HLS media playlist file. It is exported so
// tests and tools can check what Transcode wrote.
func ParseMediaPlaylist(path string) (*MediaPlaylist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("parse playlist: %w", err)
	}
	defer f.Close()
	pl := &MediaPlaylist{}
	sc := bufio.NewScanner(f)
	first := true
	var pending time.Duration
	havePending := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if first {
			if line != "#EXTM3U" {
				return nil, fmt.Errorf("parse playlist %s: missing #EXTM3U", path)
			}
			first = false
			continue
		}
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			pl.TargetDuration, err = strconv.Atoi(strings.TrimPrefix(line, "#EXT-X-TARGETDURATION:"))
			if err != nil {
				return nil, fmt.Errorf("parse playlist %s: target duration: %w", path, err)
			}
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			sec, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("parse playlist %s: segment duration: %w", path, err)
			}
			pending, havePending = time.Duration(sec*float64(time.Second)), true
		case line == "#EXT-X-ENDLIST":
			pl.Ended = true
		case strings.HasPrefix(line, "#"):
		default:
			if !havePending {
				return nil, fmt.Errorf("parse playlist %s: segment %q without #EXTINF", path, line)
			}
			pl.Segments = append(pl.Segments, Segment{URI: line, Duration: pending})
			havePending = false
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse playlist %s: %w", path, err)
	}
	if first {
		return nil, fmt.Errorf("parse playlist %s: empty file", path)
	}
	return pl, nil
}

// bandwidth measures a rendition as HLS defines it: BANDWIDTH is the peak
// bit rate of any segment, AVERAGE-BANDWIDTH the whole rendition's rate,
// both counting container overhead, i.e. what the player downloads.
func bandwidth(dir string, pl *MediaPlaylist) (peak, avg int, err error) {
	var total int64
	var dur float64
	for i, s := range pl.Segments {
		st, err := os.Stat(filepath.Join(dir, s.URI))
		if err != nil {
			return 0, 0, fmt.Errorf("measure segment: %w", err)
		}
		total += st.Size()
		sec := s.Duration.Seconds()
		dur += sec
		// A short final segment has a meaningless instantaneous rate.
		if sec <= 0 || (i == len(pl.Segments)-1 && len(pl.Segments) > 1 && sec < 1) {
			continue
		}
		peak = max(peak, int(math.Ceil(float64(st.Size())*8/sec)))
	}
	if dur <= 0 {
		return 0, 0, fmt.Errorf("measure rendition in %s: no duration", dir)
	}
	avg = int(math.Ceil(float64(total) * 8 / dur))
	return max(peak, avg), avg, nil
}

// variant is one line pair of the master playlist.
type variant struct {
	uri           string
	peak, average int
	width, height int
	codecs        string
	frameRate     float64
}

// writeMaster writes the multivariant playlist, lowest rendition first (the
// order players try when they know nothing yet about the network).
func writeMaster(path string, vs []variant) error {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, v := range vs {
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d", v.peak, v.average)
		if v.width > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", v.width, v.height)
		}
		if v.frameRate > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", v.frameRate)
		}
		fmt.Fprintf(&b, ",CODECS=%q\n%s\n", v.codecs, v.uri)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write master playlist: %w", err)
	}
	return nil
}

// masterCodecs reads the CODECS attribute of each variant in a master
// playlist written by ffmpeg, keyed by variant URI.
func masterCodecs(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ffmpeg master playlist: %w", err)
	}
	out := map[string]string{}
	codecs := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			codecs = ""
			if _, v, ok := strings.Cut(line, `CODECS="`); ok {
				codecs, _, _ = strings.Cut(v, `"`)
			}
		case line != "" && !strings.HasPrefix(line, "#"):
			out[line] = codecs
		}
	}
	return out, nil
}

// avcCodec is the RFC 6381 codec string for an H.264 stream, from the
// profile and level ffprobe reports, with the constraint flags x264
// writes (constraint_set1 for Main, set0+set1 for Constrained Baseline,
// none for High). Used only when ffmpeg's master playlist has no CODECS.
func avcCodec(profile string, level int) string {
	idc, constraints := 0x64, 0x00
	switch strings.ToLower(profile) {
	case "constrained baseline":
		idc, constraints = 0x42, 0xc0
	case "baseline":
		idc = 0x42
	case "main":
		idc, constraints = 0x4d, 0x40
	case "high":
		idc = 0x64
	}
	if level <= 0 {
		level = 40
	}
	return fmt.Sprintf("avc1.%02x%02x%02x", idc, constraints, level)
}

// codecAAC is AAC-LC, what ffmpeg's aac encoder produces.
const codecAAC = "mp4a.40.2"
