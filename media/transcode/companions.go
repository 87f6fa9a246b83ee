package transcode

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"
)

// writeThumbsVTT writes the WebVTT thumbnails track: one cue per sprite
// tile, pointing at the tile with a media fragment (sprite.jpg#xywh=...).
// Tiles are laid out row by row, as ffmpeg's tile filter fills them.
func writeThumbsVTT(path, sprite string, pl plan, dur time.Duration) error {
	var b strings.Builder
	b.WriteString("WEBVTT\n")
	iv := time.Duration(pl.interval) * time.Second
	n := int(math.Ceil(dur.Seconds() / float64(pl.interval)))
	for i := 0; i < n && i < pl.cols*pl.rows; i++ {
		start := time.Duration(i) * iv
		end := min(start+iv, dur)
		if end <= start {
			break
		}
		x, y := (i%pl.cols)*pl.thumbW, (i/pl.cols)*pl.thumbH
		fmt.Fprintf(&b, "\n%s --> %s\n%s#xywh=%d,%d,%d,%d\n",
			vttTime(start), vttTime(end), sprite, x, y, pl.thumbW, pl.thumbH)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write thumbnails track: %w", err)
	}
	return nil
}

func vttTime(d time.Duration) string {
	ms := d.Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000)
}

// readPeaks reads signed 16-bit little-endian mono samples and returns, for
// every samplesPerPixel samples, the minimum and the maximum scaled to 8
// bits: the shape a timeline draws, at a fraction of the audio's size.
func readPeaks(r io.Reader, samplesPerPixel int) ([]int8, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var peaks []int8
	buf := make([]byte, 2)
	lo, hi, count := int16(math.MaxInt16), int16(math.MinInt16), 0
	for {
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return nil, err
		}
		s := int16(binary.LittleEndian.Uint16(buf))
		lo, hi = min(lo, s), max(hi, s)
		count++
		if count == samplesPerPixel {
			peaks = append(peaks, int8(lo>>8), int8(hi>>8))
			lo, hi, count = math.MaxInt16, math.MinInt16, 0
		}
	}
	if count > 0 {
		peaks = append(peaks, int8(lo>>8), int8(hi>>8))
	}
	return peaks, nil
}

// Waveform is waveform.json: the audiowaveform JSON format (version 2, one
// channel, 8 bits), which waveform-data.js and peaks.js read directly. Data
// holds min,max pairs; pixel i covers samples [i*SamplesPerPixel,
// (i+1)*SamplesPerPixel) at SampleRate, so its time is
// i*SamplesPerPixel/SampleRate seconds.
type Waveform struct {
	Version         int    `json:"version"`
	Channels        int    `json:"channels"`
	SampleRate      int    `json:"sample_rate"`
	SamplesPerPixel int    `json:"samples_per_pixel"`
	Bits            int    `json:"bits"`
	Length          int    `json:"length"`
	Data            []int8 `json:"data"`
}

func writeWaveform(path string, samplesPerPixel int, peaks []int8) error {
	if peaks == nil {
		peaks = []int8{}
	}
	w := Waveform{Version: 2, Channels: 1, SampleRate: waveformRate, SamplesPerPixel: samplesPerPixel,
		Bits: 8, Length: len(peaks) / 2, Data: peaks}
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("encode waveform: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("write waveform: %w", err)
	}
	return nil
}
