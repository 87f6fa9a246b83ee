package captions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// whisper runs whisper.cpp's command-line program (whisper-cli; "main" in
// releases before 1.7) with a ggml model the operator downloaded:
//
//	whisper-cli -m MODEL -f in.wav -l en -t N -ml 1 -sow -ojf -of OUT -pp
//
// -ml 1 -sow makes each output segment one word, -ojf (--output-json-full)
// writes OUT.json with per-token probabilities, -pp prints
// "whisper_print_progress_callback: progress =  45%" lines on stderr.
// whisper.cpp processes 30 s windows itself and uses threads, so one process
// per clip with cfg.Workers threads is run instead of splitting the audio.
type whisper struct {
	cfg   Config
	bin   string
	model string
}

func newWhisper(cfg Config) (*whisper, error) {
	cfg = cfg.withDefaults()
	if cfg.Whisper.Model == "" {
		return nil, fmt.Errorf("whisper: %w: no model configured (download a ggml model, e.g. ggml-base.en.bin, and set FILMROOM_WHISPER_MODEL)", ErrEngineNotFound)
	}
	if st, err := os.Stat(cfg.Whisper.Model); err != nil || st.IsDir() {
		return nil, fmt.Errorf("whisper: %w: model file %s is missing", ErrEngineNotFound, cfg.Whisper.Model)
	}
	bin := cfg.Whisper.Bin
	if bin == "" {
		bin = "whisper-cli"
	}
	path, err := lookBin(bin, "build whisper.cpp and set FILMROOM_WHISPER_BIN to its whisper-cli")
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	return &whisper{cfg: cfg, bin: path, model: cfg.Whisper.Model}, nil
}

func (w *whisper) Name() string { return EngineWhisper }

func (w *whisper) Transcribe(ctx context.Context, wavPath, lang string, progress func(float64)) ([]Word, error) {
	dur, err := wavDuration(wavPath)
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	dir, err := os.MkdirTemp(w.cfg.TempDir, "filmroom-whisper-*")
	if err != nil {
		return nil, fmt.Errorf("whisper: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	prefix := filepath.Join(dir, "out")
	args := []string{
		"-m", w.model, "-f", wavPath, "-l", whisperLang(lang),
		"-t", strconv.Itoa(w.cfg.Workers),
		"-ml", "1", "-sow", "-ojf", "-of", prefix, "-pp",
	}
	if progress != nil {
		progress(0)
	}
	pw := &progressWriter{report: progress}
	err = runProcess(ctx, procSpec{
		what:    "whisper-cli " + filepath.Base(wavPath),
		bin:     w.bin,
		args:    args,
		timeout: w.cfg.processTimeout(dur),
		stdout:  io.Discard,
		stderr:  pw,
	})
	if err != nil {
		return nil, fmt.Errorf("whisper: %w", err)
	}
	data, err := os.ReadFile(prefix + ".json")
	if errors.Is(err, os.ErrNotExist) {
		// whisper-cli exits 0 when it cannot read the input file.
		return nil, fmt.Errorf("whisper: %w: whisper-cli wrote no %s.json (could it read %s?)", ErrEngineFailed, filepath.Base(prefix), wavPath)
	}
	if err != nil {
		return nil, fmt.Errorf("whisper: read output: %w", err)
	}
	words, err := parseWhisperJSON(data)
	if err != nil {
		return nil, fmt.Errorf("whisper: %w: %v", ErrEngineFailed, err)
	}
	if progress != nil {
		progress(100)
	}
	return words, nil
}

// whisperLang maps a BCP 47 tag to whisper's ISO 639-1 code; "" lets whisper
// detect the language.
func whisperLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == "" {
		return "auto"
	}
	if k := strings.IndexAny(l, "-_"); k > 0 {
		l = l[:k]
	}
	return l
}

// whisperOutput is the part of whisper.cpp's JSON output (-oj/-ojf) we read.
type whisperOutput struct {
	Transcription []struct {
		Offsets whisperOffsets `json:"offsets"`
		Text    string         `json:"text"`
		Tokens  []struct {
			Text    string          `json:"text"`
			Offsets *whisperOffsets `json:"offsets"`
			P       float64         `json:"p"`
		} `json:"tokens"`
	} `json:"transcription"`
}

type whisperOffsets struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// parseWhisperJSON turns whisper.cpp JSON into words. With tokens (-ojf),
// words are rebuilt from tokens (a token starting with a space starts a
// word) with token times and mean token probability; without, each segment's
// words share its time by length. Special tokens ([_BEG_], [_TT_150]) and
// non-speech annotations ([BLANK_AUDIO], (music)) are dropped; punctuation
// that arrives as its own word joins the previous word.
func parseWhisperJSON(data []byte) ([]Word, error) {
	// whisper.cpp escapes only quotes and backslashes, so token text may
	// hold raw control characters; in JSON they are invalid, and as
	// whitespace outside strings they are harmless.
	clean := make([]byte, len(data))
	for i, c := range data {
		if c < 0x20 {
			c = ' '
		}
		clean[i] = c
	}
	var out whisperOutput
	if err := json.Unmarshal(clean, &out); err != nil {
		return nil, fmt.Errorf("parse whisper JSON: %w", err)
	}
	var words []Word
	add := func(w Word) {
		w.Text = strings.TrimSpace(w.Text)
		if w.Text == "" || isNonSpeech(w.Text) {
			return
		}
		if !hasWordChar(w.Text) {
			if n := len(words); n > 0 {
				words[n-1].Text += w.Text
				words[n-1].EndMS = max(words[n-1].EndMS, w.EndMS)
			}
			return
		}
		w.EndMS = max(w.EndMS, w.StartMS+1)
		words = append(words, w)
	}
	for _, seg := range out.Transcription {
		if isNonSpeech(strings.TrimSpace(seg.Text)) {
			continue
		}
		var cur *Word
		var pSum float64
		var pN int
		flush := func() {
			if cur != nil {
				if pN > 0 {
					cur.Confidence = pSum / float64(pN)
				}
				add(*cur)
			}
			cur, pSum, pN = nil, 0, 0
		}
		usedTokens := false
		for _, t := range seg.Tokens {
			if strings.HasPrefix(t.Text, "[_") || strings.HasPrefix(t.Text, "<|") || t.Text == "" {
				continue
			}
			usedTokens = true
			from, to := seg.Offsets.From, seg.Offsets.To
			if t.Offsets != nil {
				from, to = t.Offsets.From, t.Offsets.To
			}
			if cur == nil || strings.HasPrefix(t.Text, " ") {
				flush()
				cur = &Word{StartMS: from, EndMS: to, Confidence: 1}
			}
			cur.Text += t.Text
			cur.EndMS = max(cur.EndMS, to)
			pSum += t.P
			pN++
		}
		flush()
		if usedTokens {
			continue
		}
		fields := strings.Fields(seg.Text)
		total := 0
		for _, f := range fields {
			total += len(f) + 1
		}
		pos := 0
		for _, f := range fields {
			d := seg.Offsets.To - seg.Offsets.From
			add(Word{
				StartMS:    seg.Offsets.From + d*int64(pos)/int64(total),
				EndMS:      seg.Offsets.From + d*int64(pos+len(f)+1)/int64(total),
				Text:       f,
				Confidence: 1,
			})
			pos += len(f) + 1
		}
	}
	return words, nil
}

func isNonSpeech(s string) bool {
	return (strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]")) ||
		(strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")")) ||
		(strings.HasPrefix(s, "*") && strings.HasSuffix(s, "*") && len(s) > 1)
}

func hasWordChar(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// progressWriter parses "progress = NN%" lines from whisper's stderr.
type progressWriter struct {
	mu     sync.Mutex
	report func(float64)
	line   []byte
}

func (p *progressWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range b {
		if c != '\n' {
			if len(p.line) < 512 {
				p.line = append(p.line, c)
			}
			continue
		}
		line := string(p.line)
		p.line = p.line[:0]
		_, after, ok := strings.Cut(line, "progress =")
		if !ok || p.report == nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(after), "%")), 64)
		if err == nil && v >= 0 && v <= 100 {
			p.report(min(v, 99))
		}
	}
	return len(b), nil
}
