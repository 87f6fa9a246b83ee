package captions

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"time"
)

// segment is one piece of the clip's audio, written to its own WAV file.
type segment struct {
	index    int
	path     string
	offsetMS int64
	durMS    int64
}

const (
	frameMS      = 10
	frameSamples = SampleRate * frameMS / 1000
	frameBytes   = frameSamples * 2
	silenceDB    = -100.0
)

// splitWAV reads 16 kHz mono samples from r and writes them to segment files
// in dir, each between minSeg and maxSeg long (the last may be shorter),
// calling emit for each as soon as it is written. It cuts in the middle of
// the longest pause in the allowed window so that no word is cut in half.
// Only one segment of audio is held in memory, whatever the input length;
// emit blocking (workers busy) keeps the number of files on disk bounded too.
func splitWAV(ctx context.Context, r io.Reader, dir string, minSeg, maxSeg time.Duration, emit func(segment) error) error {
	minFrames := int(minSeg / (frameMS * time.Millisecond))
	maxFrames := int(maxSeg / (frameMS * time.Millisecond))
	if minFrames < 1 {
		minFrames = 1
	}
	if maxFrames < minFrames {
		maxFrames = minFrames
	}
	pcm := make([]byte, 0, (maxFrames+1)*frameBytes)
	db := make([]float64, 0, maxFrames+1)
	frame := make([]byte, frameBytes)
	var offsetMS int64
	index := 0

	flush := func(frames int) error {
		n := min(frames*frameBytes, len(pcm))
		seg := segment{
			index:    index,
			path:     filepath.Join(dir, fmt.Sprintf("seg-%06d.wav", index)),
			offsetMS: offsetMS,
			durMS:    int64(n/2) * 1000 / SampleRate,
		}
		if err := writeWAV(seg.path, pcm[:n]); err != nil {
			return err
		}
		index++
		offsetMS += seg.durMS
		pcm = append(pcm[:0], pcm[n:]...)
		db = append(db[:0], db[min(frames, len(db)):]...)
		return emit(seg)
	}

	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.ReadFull(r, frame)
		if n > 0 {
			n -= n % 2 // a dangling odd byte is not a sample
			pcm = append(pcm, frame[:n]...)
			db = append(db, frameDB(frame[:n]))
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read audio: %w", err)
		}
		if len(db) >= maxFrames {
			if err := flush(chooseCut(db, minFrames, maxFrames)); err != nil {
				return err
			}
		}
	}
	if len(pcm) > 0 {
		return flush(len(db))
	}
	return nil
}

// frameDB is the RMS level of a frame in dBFS.
func frameDB(b []byte) float64 {
	if len(b) < 2 {
		return silenceDB
	}
	var sum float64
	n := len(b) / 2
	for i := 0; i < n; i++ {
		s := float64(int16(binary.LittleEndian.Uint16(b[2*i:])))
		sum += s * s
	}
	rms := math.Sqrt(sum / float64(n))
	if rms < 1 {
		return silenceDB
	}
	return 20 * math.Log10(rms/32768)
}

// chooseCut picks the frame to cut at within [lo, hi]: the middle of the
// longest run of quiet frames, where quiet is relative to this stretch's
// noise floor (classrooms are never silent). Without any quiet run it takes
// the quietest 100 ms.
func chooseCut(db []float64, lo, hi int) int {
	hi = min(hi, len(db))
	if lo >= hi {
		return hi
	}
	sorted := append([]float64(nil), db...)
	sort.Float64s(sorted)
	floor := sorted[len(sorted)*5/100]
	speech := sorted[len(sorted)*90/100]
	threshold := math.Inf(-1) // level audio has no pause to find
	if speech-floor >= 6 {
		threshold = floor + math.Min(15, 0.3*(speech-floor))
	}
	bestStart, bestLen := -1, 0
	runStart := -1
	for i := lo; i <= hi; i++ {
		quiet := i < hi && db[i] < threshold
		if quiet && runStart < 0 {
			runStart = i
		}
		if !quiet && runStart >= 0 {
			if l := i - runStart; l >= bestLen {
				bestStart, bestLen = runStart, l
			}
			runStart = -1
		}
	}
	if bestLen >= 3 {
		return bestStart + bestLen/2
	}
	// No pause: cut where a 100 ms window is quietest.
	const win = 10
	best, bestSum := hi, math.Inf(1)
	for i := lo; i+win <= hi; i++ {
		var s float64
		for _, v := range db[i : i+win] {
			s += v
		}
		if s < bestSum {
			best, bestSum = i+win/2, s
		}
	}
	return best
}
