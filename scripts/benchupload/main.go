// Command benchupload measures a tus upload through media/upload against a
// plain file copy of the same bytes on the same disk, in one run:
//
//	go run ./scripts/benchupload -size 1GiB
//
// It generates a file, copies it (baseline), then uploads it over loopback
// to a real listener serving upload.Uploads on a filestore, and prints both
// throughputs, their ratio, and the process's peak RSS above idle while the
// upload runs (sampled VmRSS and VmHWM from /proc/self/status). The client
// runs in the same process and streams the file, so the figure bounds the
// server's memory from above. Targets: ratio >= 0.5, peak <= 100 MiB.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/filmroom/filmroom/media/upload"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchupload:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("size %q: %w", s, err)
			}
			return n * u.mult, nil
		}
	}
	return 0, fmt.Errorf("size %q", s)
}

func run() error {
	sizeFlag := flag.String("size", "1GiB", "bytes to upload (KiB, MiB, GiB suffixes)")
	chunkFlag := flag.String("chunk", "256MiB", "bytes per PATCH request")
	dirFlag := flag.String("dir", "", "work folder (default: a new temp folder, removed at the end)")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	chunk, err := parseSize(*chunkFlag)
	if err != nil {
		return err
	}
	dir := *dirFlag
	if dir == "" {
		if dir, err = os.MkdirTemp("", "benchupload-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	src := filepath.Join(dir, "source.bin")
	fmt.Printf("generating %d bytes in %s\n", size, dir)
	if err := generate(src, size); err != nil {
		return err
	}

	// Baselines: plain copies of the same bytes on the same disk, once with
	// io.Copy (copy_file_range in the kernel) and once through a 1 MiB
	// userspace buffer (read/write, as the upload path does). The ratio uses
	// the faster one. Each phase starts after sync(2) so none pays for the
	// previous one's dirty pages, and the source is in the page cache.
	if err := warm(src); err != nil {
		return err
	}
	var copyDur time.Duration
	for _, userspace := range []bool{false, true} {
		syscall.Sync()
		start := time.Now()
		if err := copyFile(src, filepath.Join(dir, "copy.bin"), userspace); err != nil {
			return err
		}
		d := time.Since(start)
		name := map[bool]string{false: "kernel", true: "userspace"}[userspace]
		fmt.Printf("plain copy (%-9s) %8.1f MiB/s (%v)\n", name, float64(size)/(1<<20)/d.Seconds(), d.Round(time.Millisecond))
		if copyDur == 0 || d < copyDur {
			copyDur = d
		}
		_ = os.Remove(filepath.Join(dir, "copy.bin"))
	}

	// The server: upload.Uploads on a filestore behind a real listener.
	completed := make(chan upload.Finished, 1)
	u, err := upload.New(upload.Config{
		BasePath:  "/api/v1/uploads/",
		MaxSize:   size,
		Local:     filepath.Join(dir, "uploads"),
		Authorize: func(*http.Request) (string, error) { return "bench", nil },
		Validate:  func(context.Context, string, map[string]string, int64) error { return nil },
		Completed: func(_ context.Context, f upload.Finished) error { completed <- f; return nil },
	}, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer u.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: u, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String() + "/api/v1/uploads/"

	runtime.GC()
	debug.FreeOSMemory()
	idle, err := rssKiB("VmRSS")
	if err != nil {
		return err
	}
	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssKiB("VmRSS"); err == nil && v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()

	syscall.Sync()
	upStart := time.Now()
	if err := tusUpload(base, src, size, chunk); err != nil {
		return err
	}
	upDur := time.Since(upStart)
	fin := <-completed
	doneDur := time.Since(upStart)
	close(stopSampling)
	<-sampled
	hwm, _ := rssKiB("VmHWM")

	mibps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	fmt.Printf("fastest copy:          %8.1f MiB/s (%v)\n", mibps(copyDur), copyDur.Round(time.Millisecond))
	fmt.Printf("tus upload:            %8.1f MiB/s (%v, %d-byte PATCHes over loopback)\n", mibps(upDur), upDur.Round(time.Millisecond), chunk)
	fmt.Printf("throughput ratio: %.2f (target >= 0.5)\n", mibps(upDur)/mibps(copyDur))
	fmt.Printf("upload + SHA-256 until Completed: %v (sha256 %s)\n", doneDur.Round(time.Millisecond), fin.SHA256)
	fmt.Printf("RSS idle %.1f MiB; peak sampled %.1f MiB (+%.1f MiB); VmHWM %.1f MiB (+%.1f MiB above idle; target <= 100)\n",
		float64(idle)/1024, float64(peak.Load())/1024, float64(peak.Load()-idle)/1024, float64(hwm)/1024, float64(hwm-idle)/1024)
	return fin.Remove(context.Background())
}

// generate writes size pseudo-random bytes (incompressible, like video).
func generate(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	if _, err := io.CopyN(f, r, size); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return f.Close()
}

// warm reads the source once so both phases read it from the page cache.
func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// onlyWriter hides os.File's ReaderFrom so io.CopyBuffer uses our buffer.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }

func copyFile(src, dst string, userspace bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if userspace {
		_, err = io.CopyBuffer(onlyWriter{out}, struct{ io.Reader }{in}, make([]byte, 1<<20))
	} else {
		_, err = io.Copy(out, in)
	}
	if err != nil {
		out.Close()
		return fmt.Errorf("copy: %w", err)
	}
	return out.Close()
}

// tusUpload creates the upload and PATCHes the file in chunks, streaming
// each chunk from disk.
func tusUpload(base, path string, size, chunk int64) error {
	req, _ := http.NewRequest(http.MethodPost, base, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	req.Header.Set("Upload-Metadata", "filename YmVuY2guYmlu")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create: status %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = strings.TrimSuffix(base, "/api/v1/uploads/") + loc
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for off := int64(0); off < size; {
		n := min(chunk, size-off)
		req, _ := http.NewRequest(http.MethodPatch, loc, bufio.NewReaderSize(io.NewSectionReader(f, off, n), 1<<20))
		req.ContentLength = n
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("patch at %d: %w", off, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("patch at %d: status %d", off, resp.StatusCode)
		}
		off += n
	}
	return nil
}

// rssKiB reads one memory figure (VmRSS, VmHWM) of this process.
func rssKiB(field string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, errors.New(field + " not in /proc/self/status")
}
