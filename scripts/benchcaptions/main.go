// Command benchcaptions measures the captions engine on this machine with the
// LibriVox recordings and reference transcripts of the Debian package
// pocketsphinx-testdata:
//
//	(a) word error rate of pocketsphinx_continuous run directly on each raw
//	    recording, against
//	(b) the word error rate through the filmroom pipeline: each recording
//	    muxed into an MP4 with ffmpeg, extracted with captions.ExtractAudio,
//	    recognized by the captions engine (split, parallel, merged);
//	(c) the real-time factor (processing time / audio time) for a lesson of
//	    about ten minutes, built from the recordings with pauses between
//	    them, through the pipeline, and, for comparison, with one direct
//	    pocketsphinx process over the whole lesson;
//	(d) whether every cue built from the recognized words passes CheckCues.
//	(e) captions in parallel: the lesson captioned in one pass against in
//	    parts cut at pauses (captions.SplitAudio) recognized by 1 and 2
//	    workers, as the server's media.captions_chunk jobs do: time to the
//	    first cue, time to all captions, and the WER of each.
//
// Usage:
//
//	go run ./scripts/benchcaptions [-data DIR] [-minutes 10] [-workers N] [-direct-long=true] [-parallel 1,2] [-chunk 30s] [-only-parallel]
//
// Needs ffmpeg, pocketsphinx, pocketsphinx-en-us and pocketsphinx-testdata.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/filmroom/filmroom/media/captions"
)

func main() {
	data := flag.String("data", "/usr/share/pocketsphinx/test/data/librivox", "LibriVox test recordings with fileids and transcription")
	minutes := flag.Float64("minutes", 10, "length of the synthetic lesson for the real-time factor")
	workers := flag.Int("workers", runtime.NumCPU(), "engine processes per clip")
	directLong := flag.Bool("direct-long", true, "also run one direct pocketsphinx process over the whole lesson")
	parallel := flag.String("parallel", "1,2", "e) worker counts to caption the lesson with, one pass against in parts (empty: skip)")
	chunk := flag.Duration("chunk", 30*time.Second, "e) length of the parts the lesson is cut into")
	onlyParallel := flag.Bool("only-parallel", false, "run only e)")
	flag.Parse()
	var counts []int
	for _, f := range strings.Split(*parallel, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "benchcaptions: -parallel %q: want worker counts such as 1,2\n", *parallel)
			os.Exit(2)
		}
		counts = append(counts, n)
	}
	opts := options{data: *data, minutes: *minutes, workers: *workers, directLong: *directLong, parallel: counts, chunk: *chunk, onlyParallel: *onlyParallel}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "benchcaptions:", err)
		os.Exit(1)
	}
}

type recording struct {
	id   string
	wav  string
	ref  []string
	pcm  []byte
	secs float64
}

type row struct {
	name      string
	audio     time.Duration
	wall      time.Duration
	cpu       time.Duration // user+sys of engine and ffmpeg processes
	words     int
	errs, ref int
	note      string
}

type options struct {
	data         string
	minutes      float64
	workers      int
	directLong   bool
	parallel     []int
	chunk        time.Duration
	onlyParallel bool
}

func run(o options) error {
	dataDir, minutes, workers, directLong := o.data, o.minutes, o.workers, o.directLong
	ctx := context.Background()
	recs, err := loadRecordings(dataDir)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchcaptions-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	engine, err := captions.New(captions.Config{
		Engine:  captions.EnginePocketsphinx,
		Workers: workers,
		TempDir: tmp,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	var rows []row
	totalAudio := time.Duration(0)
	for _, r := range recs {
		totalAudio += time.Duration(r.secs * float64(time.Second))
	}

	if o.onlyParallel {
		return runParallelOnly(ctx, o, recs, tmp)
	}

	// (a) direct, raw audio.
	a := row{name: "a) direct pocketsphinx_continuous, raw WAV", audio: totalAudio}
	start, cpu0 := time.Now(), childCPU()
	for _, r := range recs {
		hyp, err := direct(ctx, r.wav)
		if err != nil {
			return err
		}
		e, n := wer(r.ref, hyp)
		a.errs += e
		a.ref += n
		a.words += len(hyp)
	}
	a.wall, a.cpu = time.Since(start), childCPU()-cpu0
	a.note = fmt.Sprintf("%d clips", len(recs))
	rows = append(rows, a)

	// (b) pipeline: MP4 → ExtractAudio → engine.
	b := row{name: "b) filmroom pipeline, MP4 → extract → engine", audio: totalAudio}
	var allCues, badCues int
	var firstBad string
	start, cpu0 = time.Now(), childCPU()
	for _, r := range recs {
		mp4 := filepath.Join(tmp, r.id+".mp4")
		if err := muxVideo(ctx, r.wav, mp4); err != nil {
			return err
		}
		words, err := pipeline(ctx, engine, mp4, tmp)
		if err != nil {
			return err
		}
		hyp := wordTexts(words)
		e, n := wer(r.ref, hyp)
		b.errs += e
		b.ref += n
		b.words += len(hyp)
		cues := captions.BuildCues(words)
		allCues += len(cues)
		if v := captions.CheckCues(cues, captions.DefaultRules()); len(v) > 0 {
			badCues += len(v)
			firstBad = v[0].Error()
		}
	}
	b.wall, b.cpu = time.Since(start), childCPU()-cpu0
	b.note = "includes muxing and extraction"
	rows = append(rows, b)

	// (c) a lesson of about `minutes` minutes.
	lessonWAV := filepath.Join(tmp, "lesson.wav")
	lessonRef, lessonDur, err := buildLesson(recs, minutes, lessonWAV)
	if err != nil {
		return err
	}
	lessonMP4 := filepath.Join(tmp, "lesson.mp4")
	if err := muxVideo(ctx, lessonWAV, lessonMP4); err != nil {
		return err
	}
	c := row{name: fmt.Sprintf("c) pipeline, %.0f-min lesson, %d workers", lessonDur.Minutes(), workers), audio: lessonDur}
	start, cpu0 = time.Now(), childCPU()
	words, err := pipeline(ctx, engine, lessonMP4, tmp)
	if err != nil {
		return err
	}
	c.wall, c.cpu = time.Since(start), childCPU()-cpu0
	hyp := wordTexts(words)
	c.errs, c.ref = wer(lessonRef, hyp)
	c.words = len(hyp)
	c.note = "from MP4, extraction included"
	cues := captions.BuildCues(words)
	allCues += len(cues)
	if v := captions.CheckCues(cues, captions.DefaultRules()); len(v) > 0 {
		badCues += len(v)
		firstBad = v[0].Error()
	}
	rows = append(rows, c)

	if directLong {
		d := row{name: fmt.Sprintf("c') direct, %.0f-min lesson, 1 process", lessonDur.Minutes()), audio: lessonDur}
		start, cpu0 = time.Now(), childCPU()
		hyp, err := direct(ctx, lessonWAV)
		if err != nil {
			return err
		}
		d.wall, d.cpu = time.Since(start), childCPU()-cpu0
		d.errs, d.ref = wer(lessonRef, hyp)
		d.words = len(hyp)
		d.note = "raw WAV, no splitting"
		rows = append(rows, d)
	}

	var par []parallelRow
	if len(o.parallel) > 0 {
		if par, err = benchParallel(ctx, lessonMP4, lessonRef, tmp, o.parallel, o.chunk); err != nil {
			return err
		}
	}

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ruc syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ruc)

	fmt.Printf("captions benchmark — %s, %d CPUs, %s\n\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().Format(time.DateOnly))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\taudio\twall\tRTF\tCPU\tCPU/audio\twords\tWER\tnote")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.1fs\t%.1fs\t%.3f\t%.1fs\t%.3f\t%d\t%.1f%% (%d/%d)\t%s\n",
			r.name, r.audio.Seconds(), r.wall.Seconds(), r.wall.Seconds()/r.audio.Seconds(),
			r.cpu.Seconds(), r.cpu.Seconds()/r.audio.Seconds(), r.words,
			100*float64(r.errs)/float64(max(r.ref, 1)), r.errs, r.ref, r.note)
	}
	tw.Flush()
	if len(par) > 0 {
		printParallel(par, lessonDur)
	}
	fmt.Printf("\nd) cues built: %d, CheckCues violations: %d", allCues, badCues)
	if firstBad != "" {
		fmt.Printf(" (first: %s)", firstBad)
	}
	fmt.Println()
	fmt.Printf("peak RSS: benchmark process %d MB, largest child process %d MB\n", ru.Maxrss/1024, ruc.Maxrss/1024)
	fmt.Printf("load average at the end: %s (RTF is wall time / audio time and suffers from other load; CPU/audio does not)\n", loadavg())
	if badCues > 0 {
		return fmt.Errorf("%d cue rule violations", badCues)
	}
	return nil
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// childCPU is the CPU time used so far by finished child processes; its
// growth over a case is robust to other load on a shared machine, unlike
// wall time.
func childCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadRecordings reads fileids, transcription and the 16 kHz WAVs.
func loadRecordings(dir string) ([]recording, error) {
	ids, err := os.ReadFile(filepath.Join(dir, "fileids"))
	if err != nil {
		return nil, fmt.Errorf("%w (install the Debian package pocketsphinx-testdata)", err)
	}
	trans, err := os.ReadFile(filepath.Join(dir, "transcription"))
	if err != nil {
		return nil, err
	}
	refs := map[string][]string{}
	line := regexp.MustCompile(`^(.*)\(([^()]+)\)\s*$`)
	for _, l := range strings.Split(string(trans), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		refs[m[2]] = normalize(strings.Fields(m[1]))
	}
	var recs []recording
	for _, id := range strings.Fields(string(ids)) {
		wav := filepath.Join(dir, id+".wav")
		pcm, err := readPCM(wav)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", wav, err)
		}
		ref, ok := refs[id]
		if !ok {
			return nil, fmt.Errorf("no reference transcript for %s", id)
		}
		recs = append(recs, recording{id: id, wav: wav, ref: ref, pcm: pcm, secs: float64(len(pcm)) / 2 / captions.SampleRate})
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no recordings in %s", dir)
	}
	return recs, nil
}

// readPCM returns the samples of a 16 kHz mono 16-bit WAV.
func readPCM(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("not a WAV file")
	}
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4:]))
		p += 8
		if id == "fmt " && (binary.LittleEndian.Uint32(b[p+4:]) != captions.SampleRate || binary.LittleEndian.Uint16(b[p+2:]) != 1) {
			return nil, fmt.Errorf("want 16 kHz mono")
		}
		if id == "data" {
			return b[p:min(p+size, len(b))], nil
		}
		p += size + size%2
	}
	return nil, fmt.Errorf("no data chunk")
}

// buildLesson concatenates the recordings, with pauses of 0.7–2.2 s, until
// the lesson is about `minutes` long; it returns the reference words.
func buildLesson(recs []recording, minutes float64, out string) ([]string, time.Duration, error) {
	target := int(minutes * 60 * captions.SampleRate * 2)
	var pcm []byte
	var ref []string
	for i := 0; len(pcm) < target; i++ {
		r := recs[i%len(recs)]
		pause := (700 + (i*373)%1500) * captions.SampleRate * 2 / 1000
		pcm = append(pcm, make([]byte, pause)...)
		pcm = append(pcm, r.pcm...)
		ref = append(ref, r.ref...)
	}
	pcm = append(pcm, make([]byte, captions.SampleRate*2)...)
	f, err := os.Create(out)
	if err != nil {
		return nil, 0, err
	}
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], uint32(36+len(pcm)))
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[22:], 1)
	binary.LittleEndian.PutUint32(hdr[24:], captions.SampleRate)
	binary.LittleEndian.PutUint32(hdr[28:], captions.SampleRate*2)
	binary.LittleEndian.PutUint16(hdr[32:], 2)
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], uint32(len(pcm)))
	if _, err := f.Write(append(hdr, pcm...)); err != nil {
		f.Close()
		return nil, 0, err
	}
	if err := f.Close(); err != nil {
		return nil, 0, err
	}
	return ref, time.Duration(len(pcm)/2) * time.Second / captions.SampleRate, nil
}

// muxVideo puts the audio in an MP4 with a small video track, AAC audio at
// 44.1 kHz stereo, as a phone upload would be.
func muxVideo(ctx context.Context, wav, out string) error {
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", "color=c=black:s=160x120:r=5", "-i", wav, "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-ar", "44100", "-ac", "2", "-b:a", "128k", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mux %s: %v: %s", wav, err, b)
	}
	return nil
}

func pipeline(ctx context.Context, e captions.Engine, media, tmp string) ([]captions.Word, error) {
	wav := filepath.Join(tmp, "extracted.wav")
	defer os.Remove(wav)
	if err := captions.ExtractAudio(ctx, media, wav); err != nil {
		return nil, err
	}
	return e.Transcribe(ctx, wav, "en", nil)
}

// direct runs pocketsphinx_continuous on a WAV and returns its hypothesis.
func direct(ctx context.Context, wav string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "pocketsphinx_continuous", "-infile", wav, "-logfn", "/dev/null")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pocketsphinx_continuous %s: %w", wav, err)
	}
	var words []string
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		words = append(words, strings.Fields(sc.Text())...)
	}
	return normalize(words), nil
}

func wordTexts(ws []captions.Word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return normalize(out)
}

// normalize lowercases, drops sentence markers and pronunciation variants,
// and spells out the abbreviations the dictionary uses (mr → mister), so
// that only recognition errors count.
func normalize(ws []string) []string {
	spell := map[string]string{"mr": "mister", "mrs": "missus", "dr": "doctor"}
	var out []string
	for _, w := range ws {
		w = strings.ToLower(w)
		if w == "<s>" || w == "</s>" || w == "<sil>" {
			continue
		}
		if k := strings.IndexByte(w, '('); k > 0 {
			w = w[:k]
		}
		w = strings.Trim(w, ".,;:!?\"")
		if s, ok := spell[w]; ok {
			w = s
		}
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// wer returns the word-level edit distance between ref and hyp and len(ref).
func wer(ref, hyp []string) (int, int) {
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			cost := 1
			if ref[i-1] == hyp[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(hyp)], len(ref)
}
