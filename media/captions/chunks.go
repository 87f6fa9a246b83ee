package captions

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// Chunk is one piece of a clip's audio that is captioned on its own (by any
// worker), then placed back at its offset. Chunks cover the audio without
// gaps or overlap, and every cut lies in a pause.
type Chunk struct {
	Index    int    `json:"index"`
	OffsetMS int64  `json:"offset_ms"`
	DurMS    int64  `json:"dur_ms"`
	Path     string `json:"-"` // the chunk's WAV, 16 kHz mono like its source
}

// EndMS is where the chunk ends in the clip.
func (c Chunk) EndMS() int64 { return c.OffsetMS + c.DurMS }

// SplitOptions tunes [SplitAudio]. The zero value cuts at pauses about every
// 30 s.
type SplitOptions struct {
	// Target is the chunk length aimed at; zero means 30 s. Chunks are cut
	// between Target/2 and 3×Target/2, at the pause nearest to Target.
	Target time.Duration
	// NoiseDB is the level under which silencedetect hears a pause; zero
	// means -35 dB. MinPause is the shortest pause counted; zero means
	// 250 ms.
	NoiseDB  float64
	MinPause time.Duration
}

func (o SplitOptions) withDefaults() SplitOptions {
	if o.Target <= 0 {
		o.Target = 30 * time.Second
	}
	if o.NoiseDB == 0 {
		o.NoiseDB = -35
	}
	if o.MinPause <= 0 {
		o.MinPause = 250 * time.Millisecond
	}
	return o
}

// pause is a stretch of silence found by silencedetect, in milliseconds.
type pause struct{ startMS, endMS int64 }

// SplitAudio cuts a 16 kHz mono WAV (see [ExtractAudio]) into chunk WAV files
// in dir, so that long audio can be captioned in parallel across cores and
// worker nodes. Cuts are made in the middle of pauses that ffmpeg's
// silencedetect finds, the longest within each window around Target; where a stretch has
// no pause quiet enough (a noisy classroom) the cut goes in its quietest
// 100 ms relative to its own noise floor, so a word is never cut in half
// unless people talk without a breath for 3×Target/2. Audio shorter than
// 3×Target/2 is one chunk.
func SplitAudio(ctx context.Context, wavPath, dir string, opts SplitOptions) ([]Chunk, error) {
	opts = opts.withDefaults()
	total, err := wavDuration(wavPath)
	if err != nil {
		return nil, fmt.Errorf("split audio: %w", err)
	}
	totalMS := total.Milliseconds()
	targetMS := opts.Target.Milliseconds()
	var cuts []int64
	if totalMS > targetMS*3/2 {
		pauses, err := detectPauses(ctx, wavPath, opts)
		if err != nil {
			return nil, fmt.Errorf("split audio: %w", err)
		}
		cuts, err = chooseCuts(wavPath, totalMS, targetMS, pauses)
		if err != nil {
			return nil, fmt.Errorf("split audio: %w", err)
		}
	}
	chunks, err := writeChunks(ctx, wavPath, dir, cuts)
	if err != nil {
		return nil, fmt.Errorf("split audio: %w", err)
	}
	return chunks, nil
}

var silenceRE = regexp.MustCompile(`silence_(start|end): (-?[0-9.]+)`)

// detectPauses runs silencedetect over the WAV.
func detectPauses(ctx context.Context, wavPath string, opts SplitOptions) ([]pause, error) {
	filter := fmt.Sprintf("noise=%gdB:d=%g", opts.NoiseDB, opts.MinPause.Seconds())
	args := ffmpeg.Input(wavPath).Filter("silencedetect", ffmpeg.Args{filter}).
		Output("-", ffmpeg.KwArgs{"f": "null"}).
		GlobalArgs("-nostdin", "-hide_banner", "-loglevel", "info").GetArgs()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("silencedetect: %w", err)
	}
	var pauses []pause
	var tail tailBuffer
	start := int64(-1)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		_, _ = tail.Write([]byte(line + "\n"))
		for _, m := range silenceRE.FindAllStringSubmatch(line, -1) {
			sec, err := strconv.ParseFloat(m[2], 64)
			if err != nil {
				continue
			}
			ms := int64(math.Round(math.Max(0, sec) * 1000))
			if m[1] == "start" {
				start = ms
			} else if start >= 0 {
				pauses = append(pauses, pause{start, ms})
				start = -1
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("silencedetect: %w: %s", err, lastLines(tail.String(), 3))
	}
	// A pause still open at the end runs to the end of the audio; it cannot
	// hold a cut that leaves audio after it, so it is left out.
	return pauses, nil
}

// chooseCuts picks cut points (ms) for audio of totalMS: each in the middle
// of the longest pause whose middle lies within [target/2, 3×target/2]
// after the previous cut, leaving the last chunk at least target/2 long.
func chooseCuts(wavPath string, totalMS, targetMS int64, pauses []pause) ([]int64, error) {
	var cuts []int64
	last := int64(0)
	for totalMS-last > targetMS*3/2 {
		lo, hi, want := last+targetMS/2, last+targetMS*3/2, last+targetMS
		best, bestLen, bestDist := int64(-1), int64(-1), int64(math.MaxInt64)
		for _, p := range pauses {
			mid := (p.startMS + p.endMS) / 2
			if mid < lo || mid > hi || totalMS-mid < targetMS/2 {
				continue
			}
			// The longest pause of the window, as the one-pass splitter
			// cuts: a short pause is often inside a sentence, and a cut
			// there costs the engine its context on both sides. Pauses
			// within 100 ms of each other count as equal; the nearer wins.
			l, d := (p.endMS-p.startMS)/100, abs64(mid-want)
			if l > bestLen || l == bestLen && d < bestDist {
				best, bestLen, bestDist = mid, l, d
			}
		}
		if best < 0 {
			cut, err := quietestCut(wavPath, lo, min(hi, totalMS-targetMS/2))
			if err != nil {
				return nil, err
			}
			best = cut
		}
		cuts = append(cuts, best)
		last = best
	}
	return cuts, nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// quietestCut reads the audio between loMS and hiMS and returns the cut
// [chooseCut] picks there: the longest run quiet relative to the stretch's
// own noise floor, else its quietest 100 ms.
func quietestCut(wavPath string, loMS, hiMS int64) (int64, error) {
	f, br, _, err := openEngineWAV(wavPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := io.CopyN(io.Discard, br, loMS*SampleRate/1000*2); err != nil {
		return 0, fmt.Errorf("read %s: %w", wavPath, err)
	}
	frames := int((hiMS - loMS) / frameMS)
	db := make([]float64, 0, frames)
	buf := make([]byte, frameBytes)
	for range frames {
		n, err := io.ReadFull(br, buf)
		if n > 0 {
			db = append(db, frameDB(buf[:n-n%2]))
		}
		if err != nil {
			break
		}
	}
	if len(db) == 0 {
		return loMS, nil
	}
	return loMS + int64(chooseCut(db, 0, len(db)))*frameMS, nil
}

// writeChunks copies the samples between cuts into one WAV per chunk,
// streaming, so memory stays small whatever the length.
func writeChunks(ctx context.Context, wavPath, dir string, cuts []int64) ([]Chunk, error) {
	f, br, info, err := openEngineWAV(wavPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var samples io.Reader = br
	if info.DataSize >= 0 {
		samples = io.LimitReader(br, info.DataSize)
	}
	bounds := append(append([]int64{0}, cuts...), -1)
	var chunks []Chunk
	for i := 0; i+1 < len(bounds); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := Chunk{Index: i, OffsetMS: bounds[i], Path: filepath.Join(dir, fmt.Sprintf("chunk-%05d.wav", i))}
		n := int64(-1) // the last chunk takes the rest
		if bounds[i+1] >= 0 {
			n = (bounds[i+1] - bounds[i]) * SampleRate / 1000 * 2
		}
		written, err := copyWAV(c.Path, samples, n)
		if err != nil {
			return nil, err
		}
		c.DurMS = written / 2 * 1000 / SampleRate
		chunks = append(chunks, c)
	}
	// Offsets come from the bytes written, so rounding never drifts.
	var off int64
	for i := range chunks {
		chunks[i].OffsetMS = off
		off += chunks[i].DurMS
	}
	return chunks, nil
}

// copyWAV writes n bytes of samples (all that remain when n < 0) from r to a
// new WAV file at path and returns how many it wrote.
func copyWAV(path string, r io.Reader, n int64) (int64, error) {
	out, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", path, err)
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	if _, err := bw.Write(wavHeader(0)); err != nil {
		out.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	src := r
	if n >= 0 {
		src = io.LimitReader(r, n)
	}
	written, err := io.Copy(bw, src)
	if err != nil {
		out.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if written%2 == 1 {
		// A dangling odd byte is not a sample; pad so the header is exact.
		if err := bw.WriteByte(0); err != nil {
			out.Close()
			return 0, err
		}
		written++
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := out.WriteAt(wavHeader(int(written)), 0); err != nil {
		out.Close()
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	if err := out.Close(); err != nil {
		return 0, fmt.Errorf("close %s: %w", path, err)
	}
	return written, nil
}

// Place shifts words recognized in the chunk's own audio (times from 0) to
// their time in the clip, and keeps them inside the chunk: an engine may
// report a last word ending a little after its input did.
func (c Chunk) Place(words []Word) []Word {
	out := make([]Word, 0, len(words))
	for _, w := range words {
		w.StartMS = min(max(w.StartMS, 0)+c.OffsetMS, c.EndMS())
		w.EndMS = min(max(w.EndMS+c.OffsetMS, w.StartMS), c.EndMS())
		out = append(out, w)
	}
	return out
}

// ErrChunksOverlap: chunks handed to [MergeChunks] do not tile the audio.
var ErrChunksOverlap = errors.New("captions: chunks overlap")

// MergeChunks merges per-chunk words, already placed (see [Chunk.Place]),
// into one transcript in time order. parts[i] are the words of chunks[i];
// a chunk without a result (still pending) is nil and leaves a gap. Words
// are ordered and kept from overlapping across a border, so [BuildCues]
// over the result lays cues out as if the audio had been recognized in one
// pass: a sentence that runs over a border stays one cue when it fits.
func MergeChunks(chunks []Chunk, parts [][]Word) ([]Word, error) {
	if len(parts) != len(chunks) {
		return nil, fmt.Errorf("merge chunks: %d results for %d chunks", len(parts), len(chunks))
	}
	idx := make([]int, len(chunks))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return chunks[idx[a]].OffsetMS < chunks[idx[b]].OffsetMS })
	var out []Word
	for k, i := range idx {
		if k > 0 && chunks[i].OffsetMS < chunks[idx[k-1]].EndMS() {
			return nil, fmt.Errorf("merge chunks %d and %d: %w", chunks[idx[k-1]].Index, chunks[i].Index, ErrChunksOverlap)
		}
		ws := append([]Word(nil), parts[i]...)
		sort.SliceStable(ws, func(a, b int) bool { return ws[a].StartMS < ws[b].StartMS })
		for _, w := range ws {
			if strings.TrimSpace(w.Text) == "" {
				continue
			}
			if n := len(out); n > 0 && out[n-1].EndMS > w.StartMS {
				// Never let the previous word run into this one.
				out[n-1].EndMS = max(out[n-1].StartMS, w.StartMS)
			}
			out = append(out, w)
		}
	}
	return out, nil
}
