package captions

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// DefaultPocketsphinxModel is where Debian's pocketsphinx-en-us package puts
// the acoustic model pocketsphinx_continuous uses by default.
const DefaultPocketsphinxModel = "/usr/share/pocketsphinx/model/en-us/en-us"

// pocketsphinx runs the CLI of CMU PocketSphinx as packaged by Debian
// (bookworm: 5prealpha, program pocketsphinx_continuous). Its output with
// "-time yes" is, per utterance, the hypothesis line followed by one line
// per word: "word start_s end_s posterior", fillers included:
//
//	and mr john guess what
//	<s> 0.000 0.140 0.999400
//	and(2) 0.150 0.360 0.260057
//	mr 0.370 0.620 0.988762
//
// PocketSphinx 5.0 and later replaced that program with "pocketsphinx", whose
// "live" command prints one JSON object per utterance,
// {"b":start,"d":duration,"p":prob,"t":"text","w":[{"b","d","p","t"},...]};
// a program named "pocketsphinx" is run that way. That path is tested only
// against a stand-in printing the documented format: bookworm has 5prealpha.
type pocketsphinx struct {
	cfg  Config
	bin  string
	json bool // PocketSphinx 5 "pocketsphinx live" instead of pocketsphinx_continuous
}

func newPocketsphinx(cfg Config) (*pocketsphinx, error) {
	cfg = cfg.withDefaults()
	const hint = "install the Debian packages pocketsphinx and pocketsphinx-en-us, or set FILMROOM_POCKETSPHINX_BIN"
	var path string
	var err error
	if bin := cfg.Pocketsphinx.Bin; bin != "" {
		path, err = lookBin(bin, hint)
	} else if path, err = lookBin("pocketsphinx_continuous", hint); err != nil {
		if p5, err5 := lookBin("pocketsphinx", hint); err5 == nil {
			path, err = p5, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	v5 := filepath.Base(path) == "pocketsphinx"
	hmm := cfg.Pocketsphinx.HMM
	if hmm == "" && !v5 {
		// PocketSphinx 5 carries its default model path inside the program.
		hmm = DefaultPocketsphinxModel
	}
	if hmm != "" {
		if _, err := os.Stat(filepath.Join(hmm, "mdef")); err != nil {
			return nil, fmt.Errorf("pocketsphinx: %w: acoustic model %s missing (install the Debian package pocketsphinx-en-us or set FILMROOM_POCKETSPHINX_HMM)", ErrEngineNotFound, hmm)
		}
	}
	return &pocketsphinx{cfg: cfg, bin: path, json: v5}, nil
}

func (p *pocketsphinx) Name() string { return EnginePocketsphinx }

// Transcribe splits the WAV at pauses while reading it and recognizes
// cfg.Workers segments at a time, each in its own pocketsphinx process with
// its own deadline, then shifts word times by each segment's offset.
func (p *pocketsphinx) Transcribe(ctx context.Context, wavPath, lang string, progress func(float64)) ([]Word, error) {
	if p.cfg.Pocketsphinx.HMM == "" && !isEnglish(lang) {
		return nil, fmt.Errorf("pocketsphinx: %w: %q (only the en-US model is installed; set FILMROOM_POCKETSPHINX_HMM for another)", ErrUnsupportedLanguage, lang)
	}
	f, br, info, err := openEngineWAV(wavPath)
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: %w", err)
	}
	defer f.Close()
	var samples io.Reader = br
	totalMS := int64(0)
	if info.DataSize >= 0 {
		samples = io.LimitReader(br, info.DataSize)
		totalMS = info.Duration().Milliseconds()
	} else if st, err := f.Stat(); err == nil {
		totalMS = st.Size() / 2 * 1000 / SampleRate
	}
	dir, err := os.MkdirTemp(p.cfg.TempDir, "filmroom-captions-*")
	if err != nil {
		return nil, fmt.Errorf("pocketsphinx: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	var (
		mu      sync.Mutex
		results = map[int][]Word{}
		doneMS  int64
	)
	report := func(pct float64) {
		if progress != nil {
			progress(pct)
		}
	}
	report(0)
	g, gctx := errgroup.WithContext(ctx)
	segs := make(chan segment)
	g.Go(func() error {
		defer close(segs)
		return splitWAV(gctx, samples, dir, p.cfg.MinSegment, p.cfg.MaxSegment, func(s segment) error {
			select {
			case segs <- s:
				return nil
			case <-gctx.Done():
				os.Remove(s.path)
				return gctx.Err()
			}
		})
	})
	for range p.cfg.Workers {
		g.Go(func() error {
			for s := range segs {
				if err := gctx.Err(); err != nil {
					os.Remove(s.path)
					continue // drain so the splitter can finish
				}
				begin := time.Now()
				words, err := p.recognize(gctx, s)
				os.Remove(s.path)
				if err != nil {
					return err
				}
				p.cfg.Logger.Debug("Recognized an audio segment.", "segment", s.index, "offset_ms", s.offsetMS,
					"duration_ms", s.durMS, "words", len(words), "took_ms", time.Since(begin).Milliseconds())
				mu.Lock()
				results[s.index] = words
				doneMS += s.durMS
				if totalMS > 0 {
					report(math.Min(99, 100*float64(doneMS)/float64(totalMS)))
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pocketsphinx %s: %w", wavPath, ctx.Err())
		}
		return nil, fmt.Errorf("pocketsphinx %s: %w", wavPath, err)
	}
	idx := make([]int, 0, len(results))
	for k := range results {
		idx = append(idx, k)
	}
	sort.Ints(idx)
	var words []Word
	for _, k := range idx {
		words = append(words, results[k]...)
	}
	report(100)
	return words, nil
}

func (p *pocketsphinx) recognize(ctx context.Context, s segment) ([]Word, error) {
	var args []string
	if c := p.cfg.Pocketsphinx; c.HMM != "" {
		args = append(args, "-hmm", c.HMM)
	}
	if c := p.cfg.Pocketsphinx; c.LM != "" {
		args = append(args, "-lm", c.LM)
	}
	if c := p.cfg.Pocketsphinx; c.Dict != "" {
		args = append(args, "-dict", c.Dict)
	}
	if p.json {
		args = append(args, "live", s.path)
	} else {
		args = append(args, "-infile", s.path, "-time", "yes")
	}
	out := &limitedBuffer{max: 8 << 20}
	err := runProcess(ctx, procSpec{
		what:    fmt.Sprintf("segment %d at %s (%s long)", s.index, FormatTimestamp(s.offsetMS), time.Duration(s.durMS)*time.Millisecond),
		bin:     p.bin,
		args:    args,
		timeout: p.cfg.processTimeout(time.Duration(s.durMS) * time.Millisecond),
		stdout:  out,
	})
	if err != nil {
		return nil, err
	}
	if p.json {
		words, err := parsePocketsphinx5Output(out.Bytes(), s.offsetMS)
		if err != nil {
			return nil, fmt.Errorf("segment %d: %w: %v", s.index, ErrEngineFailed, err)
		}
		return words, nil
	}
	return parsePocketsphinxOutput(out.Bytes(), s.offsetMS), nil
}

// parsePocketsphinx5Output reads the line-delimited JSON of PocketSphinx 5's
// "pocketsphinx live": times in seconds from the start of the input.
func parsePocketsphinx5Output(out []byte, offsetMS int64) ([]Word, error) {
	type seg struct {
		B float64 `json:"b"`
		D float64 `json:"d"`
		P float64 `json:"p"`
		T string  `json:"t"`
	}
	var words []Word
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var utt struct {
			seg
			W []seg `json:"w"`
		}
		if err := json.Unmarshal(line, &utt); err != nil {
			return nil, fmt.Errorf("output line %d: %w", n, err)
		}
		for _, w := range utt.W {
			if tok, ok := pocketsphinxWord(w.T); ok {
				start := offsetMS + int64(math.Round(w.B*1000))
				end := offsetMS + int64(math.Round((w.B+w.D)*1000))
				words = append(words, Word{StartMS: start, EndMS: max(end, start+1), Text: tok, Confidence: math.Max(0, math.Min(1, w.P))})
			}
		}
	}
	return words, nil
}

// pocketsphinxWord drops fillers and alternate-pronunciation marks.
func pocketsphinxWord(tok string) (string, bool) {
	if tok == "" || strings.HasPrefix(tok, "<") || strings.HasPrefix(tok, "[") || strings.HasPrefix(tok, "+") {
		return "", false
	}
	if k := strings.IndexByte(tok, '('); k > 0 && strings.HasSuffix(tok, ")") {
		tok = tok[:k]
	}
	return tok, true
}

// parsePocketsphinxOutput extracts words from pocketsphinx_continuous -time
// yes output, dropping fillers (<s>, </s>, <sil>, [NOISE], ++NOISE++),
// removing alternate-pronunciation marks ("and(2)"), and shifting times by
// offsetMS. A word's end is the start of its last 10 ms frame, so one frame
// is added to make words touch.
func parsePocketsphinxOutput(out []byte, offsetMS int64) []Word {
	var words []Word
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || !isDecimal(f[1]) || !isDecimal(f[2]) || !isDecimal(f[3]) {
			continue // hypothesis line or noise
		}
		tok, ok := pocketsphinxWord(f[0])
		if !ok {
			continue
		}
		b, _ := strconv.ParseFloat(f[1], 64)
		e, _ := strconv.ParseFloat(f[2], 64)
		conf, _ := strconv.ParseFloat(f[3], 64)
		start := offsetMS + int64(math.Round(b*1000))
		end := offsetMS + int64(math.Round(e*1000)) + frameMS
		words = append(words, Word{StartMS: start, EndMS: max(end, start+1), Text: tok, Confidence: math.Max(0, math.Min(1, conf))})
	}
	return words
}

// isDecimal accepts what pocketsphinx prints for numbers ("0.150", "1.000000").
func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot:
			dot = true
		case c == '-' && i == 0 && len(s) > 1:
		default:
			return false
		}
	}
	return true
}

// isEnglish reports whether lang is empty or an English tag.
func isEnglish(lang string) bool {
	l := strings.ToLower(strings.TrimSpace(lang))
	return l == "" || l == "en" || strings.HasPrefix(l, "en-") || strings.HasPrefix(l, "en_")
}
