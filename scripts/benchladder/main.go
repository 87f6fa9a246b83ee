// Command benchladder measures the chunked ladder (issue 13): the time from
// the end of an upload to a clip's full ladder with 1, 2 and 4 `filmroom
// worker` processes sharing one PostgreSQL database and one local media
// folder, against the bare single ffmpeg ladder encode of the same file in
// the same run, and the CPU seconds each spends per minute of video.
//
//	go run ./scripts/benchladder -bin bin/filmroom -minutes 10
//
// The input is a noisy 1080p30 H.264 + AAC phone-style clip (testsrc2 with
// the noise filter), one minute encoded once and looped by stream copy to
// the length asked for. Each configuration gets a fresh database and data
// folder: a `filmroom serve --workers 0` receives the file through tus and
// N `filmroom worker --workers 1` do every job. "one piece" is today's
// single encode on one worker (--ladder-chunk 0), the reference for the
// chunked runs. CPU is user+system time of the worker processes and of
// the ffmpeg processes they waited for (/proc/<pid>/stat utime, stime,
// cutime, cstime), read when the ladder is done; the bare encode's is its
// rusage. It prints a Markdown table for docs/benchmarks.md.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/filmroom/filmroom/media/transcode"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchladder:", err)
		os.Exit(1)
	}
}

type config struct {
	label   string
	workers int
	chunk   time.Duration // 0: one piece
}

type result struct {
	config
	wall, cpu float64
}

func run() error {
	bin := flag.String("bin", "bin/filmroom", "filmroom binary")
	minutes := flag.Int("minutes", 10, "length of the input in minutes")
	chunk := flag.Duration("chunk", time.Minute, "--ladder-chunk of the chunked runs")
	workersFlag := flag.String("workers", "1,2,4", "worker process counts of the chunked runs")
	pg := flag.String("postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server (a database is made per run)")
	cache := flag.String("cache", filepath.Join(os.TempDir(), "filmroom-benchladder"), "where the input is made and kept")
	flag.Parse()
	absBin, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	in, err := makeInput(*cache, *minutes)
	if err != nil {
		return err
	}
	videoMin := float64(*minutes)

	configs := []config{{label: "1 worker, one piece (today)", workers: 1}}
	for _, s := range strings.Split(*workersFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-workers %q", *workersFlag)
		}
		configs = append(configs, config{label: fmt.Sprintf("%d worker%s, chunked", n, plural(n)), workers: n, chunk: *chunk})
	}

	fmt.Fprintln(os.Stderr, "bare single ffmpeg ladder encode…")
	bareWall, bareCPU, err := bare(in, *cache)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  %.1f s, %.1f CPU s\n", bareWall, bareCPU)
	var results []result
	for i, c := range configs {
		fmt.Fprintf(os.Stderr, "%s…\n", c.label)
		wall, cpu, err := measure(absBin, *pg, fmt.Sprintf("filmroom_benchladder_%d", i), in, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.label, err)
		}
		fmt.Fprintf(os.Stderr, "  %.1f s, %.1f CPU s\n", wall, cpu)
		results = append(results, result{config: c, wall: wall, cpu: cpu})
	}

	fmt.Printf("\nInput: H.264 1080p30 + AAC with noise, %d min; chunks of %v to %v; 2 cores shared by every process.\n\n", *minutes, *chunk, 2**chunk)
	fmt.Println("| run | time to full ladder | ÷ bare ladder encode | speed-up over one piece | CPU s per video minute | CPU ÷ one piece | CPU ÷ bare |")
	fmt.Println("|---|---|---|---|---|---|---|")
	fmt.Printf("| bare single ffmpeg ladder encode | %.1f s | 1.00 | | %.1f | | 1.00 |\n", bareWall, bareCPU/videoMin)
	one := results[0]
	for _, r := range results {
		fmt.Printf("| %s | %.1f s | %.2f | %.2f× | %.1f | %.3f | %.2f |\n", r.label, r.wall, r.wall/bareWall, one.wall/r.wall,
			r.cpu/videoMin, r.cpu/one.cpu, r.cpu/bareCPU)
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func ffmpeg(args ...string) error {
	out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// makeInput makes (once) the noisy 1080p30 minute and loops it to length.
func makeInput(cache string, minutes int) (string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	base := filepath.Join(cache, "h264-1080p-1min.mp4")
	if _, err := os.Stat(base); err != nil {
		fmt.Fprintln(os.Stderr, "making a 1-minute noisy 1080p30 H.264 clip…")
		if err := ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60,noise=alls=10:allf=t",
			"-f", "lavfi", "-i", "sine=frequency=300:duration=60",
			"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-g", "60", "-crf", "23", "-maxrate", "12M", "-bufsize", "24M",
			"-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart", base+".tmp.mp4"); err != nil {
			return "", err
		}
		if err := os.Rename(base+".tmp.mp4", base); err != nil {
			return "", err
		}
	}
	file := filepath.Join(cache, fmt.Sprintf("h264-1080p-%dmin.mp4", minutes))
	if _, err := os.Stat(file); err != nil {
		if err := ffmpeg("-stream_loop", strconv.Itoa(minutes-1), "-i", base, "-c", "copy", "-t", strconv.Itoa(minutes*60),
			"-movflags", "+faststart", file+".tmp.mp4"); err != nil {
			return "", err
		}
		if err := os.Rename(file+".tmp.mp4", file); err != nil {
			return "", err
		}
	}
	return file, nil
}

// bare runs the ladder encode filmroom would run, as one ffmpeg process.
func bare(in, cache string) (wall, cpu float64, err error) {
	p, err := transcode.ProbeFile(context.Background(), in)
	if err != nil {
		return 0, 0, err
	}
	out := filepath.Join(cache, "bare")
	_ = os.RemoveAll(out)
	defer os.RemoveAll(out)
	args, err := transcode.LadderCommand(in, out, p, transcode.Options{Threads: 2})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range []string{"360p", "540p", "720p", "1080p"} {
		if err := os.MkdirAll(filepath.Join(out, r), 0o755); err != nil {
			return 0, 0, err
		}
	}
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("bare ladder: %w: %s", err, stderr.String())
	}
	wall = time.Since(t0).Seconds()
	st := cmd.ProcessState
	return wall, (st.UserTime() + st.SystemTime()).Seconds(), nil
}

// measure runs one configuration and returns the seconds from the end of
// the upload to the full ladder and the workers' CPU seconds.
func measure(bin, pg, dbName, in string, c config) (wall, cpu float64, err error) {
	ctx := context.Background()
	dbURL, drop, err := freshDatabase(ctx, pg, dbName)
	if err != nil {
		return 0, 0, err
	}
	defer drop()
	data, err := os.MkdirTemp("", "benchladder-data-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(data)
	port, err := freePort()
	if err != nil {
		return 0, 0, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	common := []string{"--database", dbURL, "--data-dir", data, "--captions-engine", "none", "--ladder-chunk", c.chunk.String(), "--log-level", "warn"}
	web, err := start(bin, filepath.Join(data, "serve.log"), append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--base-url", base, "--workers", "0"}, common...)...)
	if err != nil {
		return 0, 0, err
	}
	defer stop(web)
	if err := waitReady(base); err != nil {
		return 0, 0, err
	}
	var workers []*exec.Cmd
	defer func() {
		for _, w := range workers {
			stop(w)
		}
	}()
	for i := range c.workers {
		w, err := start(bin, filepath.Join(data, fmt.Sprintf("worker-%d.log", i)), append([]string{"worker", "--workers", "1"}, common...)...)
		if err != nil {
			return 0, 0, err
		}
		workers = append(workers, w)
	}
	s, err := signUp(base)
	if err != nil {
		return 0, 0, err
	}
	cpu0 := 0.0
	for _, w := range workers {
		cpu0 += cpuSeconds(w.Process.Pid)
	}
	t0, err := s.upload(in)
	if err != nil {
		return 0, 0, err
	}
	clipID, err := s.clipID()
	if err != nil {
		return 0, 0, err
	}
	for {
		var out struct {
			Clip struct {
				Status  string
				Failure any
				Ladder  *struct{ State string }
			}
		}
		if err := s.getJSON("/api/v1/clips/"+clipID, &out); err != nil {
			return 0, 0, err
		}
		if out.Clip.Status == "failed" || out.Clip.Ladder != nil && out.Clip.Ladder.State == "failed" {
			return 0, 0, fmt.Errorf("clip failed: %+v", out.Clip.Failure)
		}
		if out.Clip.Status == "ready" && out.Clip.Ladder == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	wall = time.Since(t0).Seconds()
	for _, w := range workers {
		cpu += cpuSeconds(w.Process.Pid)
	}
	return wall, cpu - cpu0, nil
}

func freshDatabase(ctx context.Context, pg, name string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	conn.Close(ctx)
	u := strings.Replace(pg, "/postgres?", "/"+name+"?", 1)
	drop := func() {
		c, err := pgx.Connect(ctx, pg)
		if err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	}
	return u, drop, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(bin, logPath string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Gone with the bench, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	return cmd, nil
}

func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	for range 300 {
		if err := cmd.Process.Signal(syscall.Signal(0)); err != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

func waitReady(base string) error {
	for range 900 {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("server never became ready")
}

// cpuSeconds is a process's CPU time with that of its waited-for children
// (ffmpeg), from /proc/<pid>/stat.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	sum := 0.0
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
		v, _ := strconv.ParseFloat(f[i], 64)
		sum += v
	}
	return sum / 100 // USER_HZ
}

type session struct {
	base    string
	cookies []*http.Cookie
	csrf    string
	title   string
}

func signUp(base string) (*session, error) {
	body := `{"name":"Bench Teacher","email":"bench@school.test","password":"a long benchmark passphrase"}`
	req, _ := http.NewRequest("POST", base+"/api/v1/setup", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 201 && res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		return nil, fmt.Errorf("setup: %d %s", res.StatusCode, b)
	}
	s := &session{base: base, cookies: res.Cookies(), title: "Bench ladder"}
	for _, c := range s.cookies {
		if c.Name == "filmroom_csrf" {
			s.csrf = c.Value
		}
	}
	return s, nil
}

func (s *session) do(method, path string, body io.Reader, size int64, headers map[string]string) (*http.Response, error) {
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		return nil, err
	}
	if size >= 0 {
		req.ContentLength = size
	}
	for _, c := range s.cookies {
		req.AddCookie(c)
	}
	req.Header.Set("X-CSRF-Token", s.csrf)
	req.Header.Set("Origin", s.base)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

// upload sends the file by tus in one PATCH and returns when it is answered.
func (s *session) upload(path string) (time.Time, error) {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, err
	}
	enc := func(v string) string { return base64.StdEncoding.EncodeToString([]byte(v)) }
	res, err := s.do("POST", "/api/v1/uploads", nil, 0, map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.FormatInt(st.Size(), 10),
		"Upload-Metadata": "filename " + enc(filepath.Base(path)) + ",filetype " + enc("video/mp4") + ",title " + enc(s.title)})
	if err != nil {
		return time.Time{}, err
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		return time.Time{}, fmt.Errorf("create upload: %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	loc = loc[strings.Index(loc, "/api/v1/uploads/"):]
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	res, err = s.do("PATCH", loc, f, st.Size(), map[string]string{"Tus-Resumable": "1.0.0", "Upload-Offset": "0",
		"Content-Type": "application/offset+octet-stream"})
	if err != nil {
		return time.Time{}, err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 204 {
		return time.Time{}, fmt.Errorf("PATCH: %d %s", res.StatusCode, b)
	}
	return time.Now(), nil
}

func (s *session) getJSON(path string, v any) error {
	res, err := s.do("GET", path, nil, -1, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d", path, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

func (s *session) clipID() (string, error) {
	for range 3000 {
		var list struct {
			Clips []struct{ ID, Title string }
		}
		if err := s.getJSON("/api/v1/clips?scope=mine", &list); err != nil {
			return "", err
		}
		for _, c := range list.Clips {
			if c.Title == s.title {
				return c.ID, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("the uploaded clip never appeared")
}
