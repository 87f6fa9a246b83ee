package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/filmroom/filmroom/media/captions"
)

// (e) captions in parallel: the lesson captioned the way the server did
// before (one pass: extract, then one engine call that splits internally)
// against the way it does now (extract, captions.SplitAudio into parts,
// each part recognized on its own by one of W workers — as the
// media.captions_chunk jobs are — placed and merged). Both start from the
// uploaded MP4. "first cue" is when the first part with words is saved (the
// one-pass job saves only at the end); "all" is when the whole track is.

type parallelRow struct {
	name       string
	workers    int
	parts      int
	first, all time.Duration
	cpu        time.Duration
	errs, ref  int
	words      int
}

func quietEngine(workers int, tmp string) (captions.Engine, error) {
	return captions.New(captions.Config{
		Engine:  captions.EnginePocketsphinx,
		Workers: workers,
		TempDir: tmp,
		// A benchmark on a shared, loaded machine must not die of the
		// per-process deadline meant for servers.
		TimeoutBase:           30 * time.Minute,
		TimeoutPerAudioSecond: -1,
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

func benchParallel(ctx context.Context, mp4 string, ref []string, tmp string, workerCounts []int, chunk time.Duration) ([]parallelRow, error) {
	var rows []parallelRow
	for _, w := range workerCounts {
		one, err := onePass(ctx, mp4, ref, tmp, w)
		if err != nil {
			return nil, err
		}
		parts, err := inParts(ctx, mp4, ref, tmp, w, chunk)
		if err != nil {
			return nil, err
		}
		rows = append(rows, one, parts)
	}
	return rows, nil
}

func onePass(ctx context.Context, mp4 string, ref []string, tmp string, workers int) (parallelRow, error) {
	r := parallelRow{name: "one pass", workers: workers, parts: 1}
	e, err := quietEngine(workers, tmp)
	if err != nil {
		return r, err
	}
	start, cpu0 := time.Now(), childCPU()
	words, err := pipeline(ctx, e, mp4, tmp)
	if err != nil {
		return r, err
	}
	_ = captions.BuildCues(words)
	r.all, r.cpu = time.Since(start), childCPU()-cpu0
	r.first = r.all
	hyp := wordTexts(words)
	r.errs, r.ref = wer(ref, hyp)
	r.words = len(hyp)
	return r, nil
}

func inParts(ctx context.Context, mp4 string, ref []string, tmp string, workers int, chunk time.Duration) (parallelRow, error) {
	r := parallelRow{name: fmt.Sprintf("in parts of ~%s", chunk), workers: workers}
	// Each part is one job running one engine process, as on the server.
	e, err := quietEngine(1, tmp)
	if err != nil {
		return r, err
	}
	dir, err := os.MkdirTemp(tmp, "parts-*")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	start, cpu0 := time.Now(), childCPU()
	wav := filepath.Join(dir, "audio.wav")
	if err := captions.ExtractAudio(ctx, mp4, wav); err != nil {
		return r, err
	}
	chunks, err := captions.SplitAudio(ctx, wav, dir, captions.SplitOptions{Target: chunk})
	if err != nil {
		return r, err
	}
	r.parts = len(chunks)
	parts := make([][]captions.Word, len(chunks))
	var (
		mu       sync.Mutex
		first    time.Duration
		firstErr error
		next     int
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(chunks) || firstErr != nil {
					mu.Unlock()
					return
				}
				c := chunks[next]
				next++
				mu.Unlock()
				ws, err := e.Transcribe(ctx, c.Path, "en", nil)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("part %d: %w", c.Index, err)
				}
				parts[c.Index] = c.Place(ws)
				if len(ws) > 0 && first == 0 {
					first = time.Since(start)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return r, firstErr
	}
	merged, err := captions.MergeChunks(chunks, parts)
	if err != nil {
		return r, err
	}
	_ = captions.BuildCues(merged)
	r.all, r.cpu = time.Since(start), childCPU()-cpu0
	r.first = first
	hyp := wordTexts(merged)
	r.errs, r.ref = wer(ref, hyp)
	r.words = len(hyp)
	return r, nil
}

func printParallel(rows []parallelRow, audio time.Duration) {
	fmt.Printf("\ne) captions in parallel, %.1f-min lesson from MP4 (extraction included)\n\n", audio.Minutes())
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "case\tworkers\tparts\tfirst cue\tall captions\tfirst/one-pass\tall/one-pass\tCPU\twords\tWER")
	var base parallelRow
	for _, r := range rows {
		if r.parts == 1 && r.name == "one pass" {
			base = r
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1fs\t%.1fs\t%.2f\t%.2f\t%.1fs\t%d\t%.1f%% (%d/%d)\n",
			r.name, r.workers, r.parts, r.first.Seconds(), r.all.Seconds(),
			r.first.Seconds()/base.all.Seconds(), r.all.Seconds()/base.all.Seconds(),
			r.cpu.Seconds(), r.words, 100*float64(r.errs)/float64(max(r.ref, 1)), r.errs, r.ref)
	}
	tw.Flush()
	fmt.Println("ratios are against the one-pass row with the same workers, run just before it")
}

// runParallelOnly builds the lesson and runs e) alone.
func runParallelOnly(ctx context.Context, o options, recs []recording, tmp string) error {
	wav := filepath.Join(tmp, "lesson.wav")
	ref, dur, err := buildLesson(recs, o.minutes, wav)
	if err != nil {
		return err
	}
	mp4 := filepath.Join(tmp, "lesson.mp4")
	if err := muxVideo(ctx, wav, mp4); err != nil {
		return err
	}
	rows, err := benchParallel(ctx, mp4, ref, tmp, o.parallel, o.chunk)
	if err != nil {
		return err
	}
	fmt.Printf("captions benchmark (e only) — %s, %d CPUs, %s\n", runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().Format(time.DateOnly))
	printParallel(rows, dur)
	fmt.Printf("load average at the end: %s\n", loadavg())
	return nil
}
