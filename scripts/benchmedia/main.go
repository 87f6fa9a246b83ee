// Command benchmedia measures filmroom's media pipeline against bare ffmpeg.
//
// In one run it generates a test clip (testsrc2 + sine, 1080p30, 60 s by
// default), then times filmroom's whole ProbeFile+Validate+Transcode (HLS
// ladder plus poster, sprite, waveform and download MP4) against the bare
// ffmpeg command line that encodes the same ladder, alternating the order
// over several runs. It prints that command, every timing, the ratio of the
// medians and the speed as a multiple of real time.
//
// With -cores it also answers how a 2-core worker should spend its cores:
// two jobs one after the other with 2 threads each, or two jobs at once
// with 1 thread each.
//
//	go run ./scripts/benchmedia [-duration 60s] [-runs 3] [-threads 2] [-cores]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/filmroom/filmroom/media/transcode"
)

func main() {
	dur := flag.Duration("duration", 60*time.Second, "length of the generated test clip")
	size := flag.String("size", "1920x1080", "frame size of the generated test clip")
	runs := flag.Int("runs", 3, "timed runs of each side")
	threads := flag.Int("threads", 2, "Options.Threads for filmroom and -threads for bare ffmpeg")
	cores := flag.Bool("cores", false, "also compare 2 sequential 2-thread jobs with 2 concurrent 1-thread jobs")
	keep := flag.Bool("keep", false, "keep the work directory")
	verbose := flag.Bool("v", false, "log filmroom's steps to stderr")
	flag.Parse()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if err := run(*dur, *size, *runs, *threads, *cores, *keep, logger); err != nil {
		fmt.Fprintln(os.Stderr, "benchmedia:", err)
		os.Exit(1)
	}
}

func run(dur time.Duration, size string, runs, threads int, cores, keep bool, logger *slog.Logger) error {
	work, err := os.MkdirTemp("", "benchmedia-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(work)
	} else {
		fmt.Println("work directory:", work)
	}
	clip := filepath.Join(work, "clip.mp4")
	fmt.Printf("generating %s %s 30 fps test clip (testsrc2 + sine)...\n", dur, size)
	secs := strconv.FormatFloat(dur.Seconds(), 'f', 3, 64)
	gen := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=s="+size+":r=30:d="+secs,
		"-f", "lavfi", "-i", "sine=f=440:d="+secs,
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", "-shortest", clip)
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("generate clip: %w: %s", err, out)
	}

	ctx := context.Background()
	p, err := transcode.ProbeFile(ctx, clip)
	if err != nil {
		return err
	}
	opt := transcode.Options{Threads: threads, Logger: logger}
	bareArgs, err := transcode.LadderCommand(clip, filepath.Join(work, "bare"), p, opt)
	if err != nil {
		return err
	}
	fmt.Println("\nbare ffmpeg command (the same ladder, nothing else):")
	fmt.Println("ffmpeg " + shellQuote(bareArgs))
	fmt.Println()

	filmroom := func(i int) (sample, error) {
		out := filepath.Join(work, fmt.Sprintf("filmroom-%d", i))
		defer os.RemoveAll(out)
		return measure(func() error {
			p, err := transcode.ProbeFile(ctx, clip)
			if err != nil {
				return err
			}
			if err := transcode.Validate(p, transcode.DefaultLimits()); err != nil {
				return err
			}
			_, err = transcode.Transcode(ctx, clip, out, p, opt, nil)
			return err
		})
	}
	bare := func(i int) (sample, error) {
		out := filepath.Join(work, "bare")
		defer os.RemoveAll(out)
		// ffmpeg's HLS muxer creates the %v directories itself.
		return measure(func() error {
			if b, err := exec.Command("ffmpeg", bareArgs...).CombinedOutput(); err != nil {
				return fmt.Errorf("bare ffmpeg: %w: %s", err, b)
			}
			return nil
		})
	}

	var fw, fc, bw, bc []time.Duration
	for i := range runs {
		order := []string{"filmroom", "bare"}
		if i%2 == 1 {
			order = []string{"bare", "filmroom"}
		}
		for _, side := range order {
			var sm sample
			var err error
			if side == "filmroom" {
				sm, err = filmroom(i)
				fw, fc = append(fw, sm.wall), append(fc, sm.cpu)
			} else {
				sm, err = bare(i)
				bw, bc = append(bw, sm.wall), append(bc, sm.cpu)
			}
			if err != nil {
				return err
			}
			fmt.Printf("run %d  %-8s wall %7.2fs (%5.2fx realtime)  cpu %7.2fs\n",
				i+1, side, sm.wall.Seconds(), dur.Seconds()/sm.wall.Seconds(), sm.cpu.Seconds())
		}
	}
	mfw, mbw, mfc, mbc := median(fw), median(bw), median(fc), median(bc)
	fmt.Printf("\nmedian wall: filmroom %.2fs (%.2fx realtime), bare ffmpeg %.2fs (%.2fx realtime), ratio %.3f\n",
		mfw.Seconds(), dur.Seconds()/mfw.Seconds(), mbw.Seconds(), dur.Seconds()/mbw.Seconds(), mfw.Seconds()/mbw.Seconds())
	fmt.Printf("median cpu:  filmroom %.2fs, bare ffmpeg %.2fs, ratio %.3f (target <= 1.10)\n",
		mfc.Seconds(), mbc.Seconds(), mfc.Seconds()/mbc.Seconds())
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end: %s", l)
	}

	if cores {
		if err := compareCores(ctx, clip, work, p, dur); err != nil {
			return err
		}
	}
	return nil
}

// compareCores times two jobs done one after the other with 2 threads each
// against the same two jobs at once with 1 thread each.
func compareCores(ctx context.Context, clip, work string, p *transcode.Probe, dur time.Duration) error {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	job := func(name string, threads int) error {
		out := filepath.Join(work, name)
		defer os.RemoveAll(out)
		_, err := transcode.Transcode(ctx, clip, out, p, transcode.Options{Threads: threads, Logger: quiet}, nil)
		return err
	}
	fmt.Println("\ncores: 2 jobs, sequential with Threads=2 vs concurrent with Threads=1")
	seq, err := measure(func() error {
		for i := range 2 {
			if err := job(fmt.Sprintf("seq-%d", i), 2); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("sequential, 2 threads each: wall %7.2fs for 2 jobs (%.2fx realtime throughput), cpu %7.2fs\n",
		seq.wall.Seconds(), 2*dur.Seconds()/seq.wall.Seconds(), seq.cpu.Seconds())

	par, err := measure(func() error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() { errs[i] = job(fmt.Sprintf("par-%d", i), 1) })
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	fmt.Printf("concurrent, 1 thread each:  wall %7.2fs for 2 jobs (%.2fx realtime throughput), cpu %7.2fs\n",
		par.wall.Seconds(), 2*dur.Seconds()/par.wall.Seconds(), par.cpu.Seconds())
	return nil
}

// cpuTime is the CPU this process and its waited-for children (ffmpeg,
// ffprobe) have used. On a shared machine wall time depends on the
// neighbours; CPU time measures the work itself.
func cpuTime() time.Duration {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(kids.Utime) + tv(kids.Stime)
}

// sample is one timed run.
type sample struct{ wall, cpu time.Duration }

// measure times f in wall-clock and CPU time.
func measure(f func() error) (sample, error) {
	c0, w0 := cpuTime(), time.Now()
	err := f()
	return sample{wall: time.Since(w0), cpu: cpuTime() - c0}, err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// shellQuote prints args so the line can be pasted into a shell.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
