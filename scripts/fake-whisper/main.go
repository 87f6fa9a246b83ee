// Command fake-whisper stands in for whisper.cpp's whisper-cli in tests and
// demos on machines without a whisper model. It takes the same command line,
// fails the same ways (missing model: exit 3; unreadable input: message and
// no output, exit 0, as whisper-cli does), prints progress lines with -pp,
// and writes the same JSON file (-oj, -ojf) to "<-of or input path>.json".
//
// Its "recognition" is deterministic: every stretch of sound louder than
// -40 dBFS, separated from the next by at least 150 ms of quiet, is one
// word, and the n-th word's text is the n-th entry of a fixed vocabulary
// (one, two, three, ...). Tests can therefore predict both the words and
// their times from the audio they generate.
//
// Usage (as whisper-cli):
//
//	fake-whisper -m model.bin -f in.wav [-l en] [-t 4] [-ml 1 -sow] [-oj|-ojf] [-of out] [-pp]
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

var vocabulary = []string{
	"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
	"eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
	"eighteen", "nineteen", "twenty",
}

type params struct {
	model      string
	language   string
	threads    int
	maxLen     int
	splitWord  bool
	json       bool
	jsonFull   bool
	progress   bool
	inputs     []string
	outputs    []string
	noPrints   bool
	translate  bool
	valueFlags map[string]string
}

// flags that take a value, as whisper-cli defines them.
var valued = map[string]bool{
	"-t": true, "--threads": true, "-p": true, "--processors": true, "-ot": true, "--offset-t": true,
	"-on": true, "--offset-n": true, "-d": true, "--duration": true, "-mc": true, "--max-context": true,
	"-ml": true, "--max-len": true, "-bo": true, "--best-of": true, "-bs": true, "--beam-size": true,
	"-ac": true, "--audio-ctx": true, "-wt": true, "--word-thold": true, "-et": true, "--entropy-thold": true,
	"-lpt": true, "--logprob-thold": true, "-nth": true, "--no-speech-thold": true, "-tp": true,
	"--temperature": true, "-tpi": true, "--temperature-inc": true, "-fp": true, "--font-path": true,
	"-of": true, "--output-file": true, "-l": true, "--language": true, "--prompt": true, "-m": true,
	"--model": true, "-f": true, "--file": true, "-oved": true, "--ov-e-device": true, "-dtw": true,
	"--dtw": true, "--suppress-regex": true, "--grammar": true, "--grammar-rule": true, "--grammar-penalty": true,
}

var booleans = map[string]bool{
	"-debug": true, "--debug-mode": true, "-tr": true, "--translate": true, "-di": true, "--diarize": true,
	"-tdrz": true, "--tinydiarize": true, "-sow": true, "--split-on-word": true, "-nf": true, "--no-fallback": true,
	"-otxt": true, "--output-txt": true, "-ovtt": true, "--output-vtt": true, "-osrt": true, "--output-srt": true,
	"-owts": true, "--output-words": true, "-olrc": true, "--output-lrc": true, "-ocsv": true, "--output-csv": true,
	"-oj": true, "--output-json": true, "-ojf": true, "--output-json-full": true, "-np": true, "--no-prints": true,
	"-ps": true, "--print-special": true, "-pc": true, "--print-colors": true, "-pp": true, "--print-progress": true,
	"-nt": true, "--no-timestamps": true, "-dl": true, "--detect-language": true, "-ls": true, "--log-score": true,
	"-ng": true, "--no-gpu": true, "-fa": true, "--flash-attn": true,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := params{model: "models/ggml-base.en.bin", language: "en", threads: 4, valueFlags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			p.inputs = append(p.inputs, a)
			continue
		}
		if a == "-h" || a == "--help" {
			usage(stderr)
			return 0
		}
		if valued[a] {
			if i+1 >= len(args) {
				fmt.Fprintf(stderr, "error: missing value for %s\n", a)
				return 1
			}
			i++
			v := args[i]
			p.valueFlags[a] = v
			switch a {
			case "-m", "--model":
				p.model = v
			case "-f", "--file":
				p.inputs = append(p.inputs, v)
			case "-of", "--output-file":
				p.outputs = append(p.outputs, v)
			case "-l", "--language":
				p.language = strings.ToLower(v)
			case "-t", "--threads":
				p.threads, _ = strconv.Atoi(v)
			case "-ml", "--max-len":
				p.maxLen, _ = strconv.Atoi(v)
			}
			continue
		}
		if !booleans[a] {
			// whisper-cli prints usage and exits 0 on unknown arguments.
			fmt.Fprintf(stderr, "error: unknown argument: %s\n", a)
			usage(stderr)
			return 0
		}
		switch a {
		case "-sow", "--split-on-word":
			p.splitWord = true
		case "-oj", "--output-json":
			p.json = true
		case "-ojf", "--output-json-full":
			p.json, p.jsonFull = true, true
		case "-pp", "--print-progress":
			p.progress = true
		case "-np", "--no-prints":
			p.noPrints = true
		case "-tr", "--translate":
			p.translate = true
		}
	}
	var inputs []string
	for _, in := range p.inputs {
		if _, err := os.Stat(in); in != "-" && err != nil {
			fmt.Fprintf(stderr, "error: input file not found '%s'\n", in)
			continue
		}
		inputs = append(inputs, in)
	}
	if len(inputs) == 0 {
		fmt.Fprintf(stderr, "error: no input files specified\n")
		usage(stderr)
		return 2
	}
	if st, err := os.Stat(p.model); err != nil || st.IsDir() {
		fmt.Fprintf(stderr, "whisper_init_from_file_with_params_no_state: loading model from '%s'\n", p.model)
		fmt.Fprintf(stderr, "error: failed to initialize whisper context\n")
		return 3
	}
	for k, in := range inputs {
		out := in
		if k < len(p.outputs) && p.outputs[k] != "" {
			out = p.outputs[k]
		}
		samples, err := readWAV(in)
		if err != nil {
			fmt.Fprintf(stderr, "error: failed to read WAV file '%s': %v\n", in, err)
			continue
		}
		if !p.noPrints {
			fmt.Fprintf(stderr, "\nmain: processing '%s' (%d samples, %.1f sec), %d threads, 1 processors, lang = %s, task = transcribe, timestamps = 1 ...\n\n",
				in, len(samples), float64(len(samples))/16000, p.threads, p.language)
		}
		words := detectWords(samples)
		if p.progress {
			for pct := 5; pct <= 100; pct += 5 {
				fmt.Fprintf(stderr, "whisper_print_progress_callback: progress = %3d%%\n", pct)
			}
		}
		segs := segmentsFor(words, p.maxLen)
		fmt.Fprintln(stdout)
		for _, s := range segs {
			fmt.Fprintf(stdout, "[%s --> %s]  %s\n", timestamp(s.t0, false), timestamp(s.t1, false), s.text())
		}
		if p.json {
			name := out + ".json"
			fmt.Fprintf(stderr, "output_json: saving output to '%s'\n", name)
			if err := writeJSON(name, p, segs); err != nil {
				fmt.Fprintf(stderr, "output_json: failed to open '%s' for writing\n", name)
			}
		}
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "\nusage: whisper-cli [options] file0.wav file1.wav ...\n\n")
	fmt.Fprintf(w, "  fake-whisper: a deterministic stand-in for whisper.cpp's whisper-cli\n\n")
}

// readWAV reads 16 kHz 16-bit PCM; like whisper-cli it refuses other rates.
func readWAV(path string) ([]int16, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, errors.New("not a WAV file")
	}
	var rate, channels, bits int
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, errors.New("no data chunk")
		}
		size := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch string(ch[0:4]) {
		case "fmt ":
			b := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, b); err != nil || size < 16 {
				return nil, errors.New("bad fmt chunk")
			}
			channels = int(binary.LittleEndian.Uint16(b[2:]))
			rate = int(binary.LittleEndian.Uint32(b[4:]))
			bits = int(binary.LittleEndian.Uint16(b[14:]))
		case "data":
			if rate != 16000 {
				return nil, fmt.Errorf("WAV file must be 16 kHz, got %d Hz", rate)
			}
			if bits != 16 || channels < 1 {
				return nil, errors.New("WAV file must be 16-bit PCM")
			}
			var lr io.Reader = r
			if size != 0 && size != 0xFFFFFFFF {
				lr = io.LimitReader(r, size)
			}
			data, err := io.ReadAll(lr)
			if err != nil {
				return nil, err
			}
			frames := len(data) / (2 * channels)
			out := make([]int16, frames)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(data[i*2*channels:]))
			}
			return out, nil
		default:
			if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
				return nil, err
			}
		}
	}
}

type word struct {
	t0, t1 int64 // centiseconds, as whisper.cpp keeps time
	text   string
	p      float64
}

// detectWords finds loud stretches in 10 ms frames.
func detectWords(s []int16) []word {
	const frame = 160
	var loud []bool
	var levels []float64
	for i := 0; i+frame <= len(s); i += frame {
		var sum float64
		for _, v := range s[i : i+frame] {
			f := float64(v)
			sum += f * f
		}
		rms := math.Sqrt(sum / frame)
		db := -100.0
		if rms >= 1 {
			db = 20 * math.Log10(rms/32768)
		}
		levels = append(levels, db)
		loud = append(loud, db > -40)
	}
	var words []word
	start := -1
	quiet := 0
	for i := 0; i <= len(loud); i++ {
		on := i < len(loud) && loud[i]
		switch {
		case on && start < 0:
			start, quiet = i, 0
		case on:
			quiet = 0
		case start >= 0:
			quiet++
			if quiet >= 15 || i == len(loud) {
				end := i - quiet + 1
				if end-start >= 5 {
					var peak float64 = -100
					for _, l := range levels[start:end] {
						peak = math.Max(peak, l)
					}
					n := len(words)
					words = append(words, word{
						t0:   int64(start),
						t1:   int64(end),
						text: vocabulary[n%len(vocabulary)],
						p:    math.Round((0.6+0.4*math.Min(1, (peak+40)/40))*1e6) / 1e6,
					})
				}
				start = -1
			}
		}
	}
	return words
}

type segment struct {
	t0, t1 int64
	words  []word
}

func (s segment) text() string {
	var b strings.Builder
	for _, w := range s.words {
		b.WriteString(" " + w.text)
	}
	return b.String()
}

// segmentsFor groups words like whisper-cli: one word per segment with
// -ml 1, otherwise segments broken at pauses of a second or more.
func segmentsFor(words []word, maxLen int) []segment {
	var segs []segment
	for _, w := range words {
		n := len(segs)
		if n > 0 && maxLen != 1 && w.t0-segs[n-1].t1 < 100 {
			segs[n-1].words = append(segs[n-1].words, w)
			segs[n-1].t1 = w.t1
			continue
		}
		segs = append(segs, segment{t0: w.t0, t1: w.t1, words: []word{w}})
	}
	return segs
}

// timestamp formats centiseconds as whisper.cpp's to_timestamp does.
func timestamp(t int64, comma bool) string {
	msec := t * 10
	hr := msec / 3600000
	msec -= hr * 3600000
	min := msec / 60000
	msec -= min * 60000
	sec := msec / 1000
	msec -= sec * 1000
	sep := "."
	if comma {
		sep = ","
	}
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", hr, min, sec, sep, msec)
}

// jsonWriter reproduces whisper.cpp's hand-written JSON (tab indentation,
// only quotes and backslashes escaped).
type jsonWriter struct {
	w      *bufio.Writer
	indent int
}

func (j *jsonWriter) pad() { j.w.WriteString(strings.Repeat("\t", j.indent)) }
func (j *jsonWriter) startObj(name string) {
	j.pad()
	if name != "" {
		fmt.Fprintf(j.w, "\"%s\": {\n", name)
	} else {
		j.w.WriteString("{\n")
	}
	j.indent++
}
func (j *jsonWriter) endObj(end bool) {
	j.indent--
	j.pad()
	if end {
		j.w.WriteString("}\n")
	} else {
		j.w.WriteString("},\n")
	}
}
func (j *jsonWriter) startArr(name string) {
	j.pad()
	fmt.Fprintf(j.w, "\"%s\": [\n", name)
	j.indent++
}
func (j *jsonWriter) endArr(end bool) {
	j.indent--
	j.pad()
	if end {
		j.w.WriteString("]\n")
	} else {
		j.w.WriteString("],\n")
	}
}
func (j *jsonWriter) value(name, raw string, end bool) {
	j.pad()
	fmt.Fprintf(j.w, "\"%s\": %s", name, raw)
	if end {
		j.w.WriteString("\n")
	} else {
		j.w.WriteString(",\n")
	}
}
func (j *jsonWriter) str(name, v string, end bool) {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `"`, `\"`)
	j.value(name, `"`+v+`"`, end)
}
func (j *jsonWriter) times(t0, t1 int64, end bool) {
	j.startObj("timestamps")
	j.str("from", timestamp(t0, true), false)
	j.str("to", timestamp(t1, true), true)
	j.endObj(false)
	j.startObj("offsets")
	j.value("from", strconv.FormatInt(t0*10, 10), false)
	j.value("to", strconv.FormatInt(t1*10, 10), true)
	j.endObj(end)
}

func writeJSON(name string, p params, segs []segment) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	j := &jsonWriter{w: bufio.NewWriter(f)}
	j.startObj("")
	j.str("systeminfo", "AVX = 0 | fake-whisper", false)
	j.startObj("model")
	j.str("type", "base", false)
	j.value("multilingual", "false", false)
	j.value("vocab", "51864", false)
	j.startObj("audio")
	j.value("ctx", "1500", false)
	j.value("state", "512", false)
	j.value("head", "8", false)
	j.value("layer", "6", true)
	j.endObj(false)
	j.startObj("text")
	j.value("ctx", "448", false)
	j.value("state", "512", false)
	j.value("head", "8", false)
	j.value("layer", "6", true)
	j.endObj(false)
	j.value("mels", "80", false)
	j.value("ftype", "1", true)
	j.endObj(false)
	j.startObj("params")
	j.str("model", p.model, false)
	j.str("language", p.language, false)
	j.value("translate", strconv.FormatBool(p.translate), true)
	j.endObj(false)
	j.startObj("result")
	lang := p.language
	if lang == "auto" {
		lang = "en"
	}
	j.str("language", lang, true)
	j.endObj(false)
	j.startArr("transcription")
	for i, s := range segs {
		j.startObj("")
		j.times(s.t0, s.t1, false)
		j.str("text", s.text(), !p.jsonFull)
		if p.jsonFull {
			j.startArr("tokens")
			type tok struct {
				text   string
				t0, t1 int64
				id     int
				p      float64
			}
			var toks []tok
			if i == 0 {
				toks = append(toks, tok{text: "[_BEG_]", t0: 0, t1: 0, id: 50363, p: 0.98})
			}
			for k, w := range s.words {
				toks = append(toks, tok{text: " " + w.text, t0: w.t0, t1: w.t1, id: 1000 + k, p: w.p})
			}
			for k, t := range toks {
				j.startObj("")
				j.str("text", t.text, false)
				j.times(t.t0, t.t1, false)
				j.value("id", strconv.Itoa(t.id), false)
				j.value("p", strconv.FormatFloat(t.p, 'g', 6, 32), false)
				j.value("t_dtw", "-1", true)
				j.endObj(k == len(toks)-1)
			}
			j.endArr(true)
		}
		j.endObj(i == len(segs)-1)
	}
	j.endArr(true)
	j.endObj(true)
	if err := j.w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
