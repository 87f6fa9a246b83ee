package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	ffmpeg "github.com/u2takey/ffmpeg-go"
)

// stderrTail is how much of ffmpeg's stderr an error carries.
const stderrTail = 2048

// ffmpegJob is one ffmpeg process: a command line built with ffmpeg-go plus
// what we attach to it.
type ffmpegJob struct {
	stream *ffmpeg.Stream
	// progress receives ffmpeg's out_time as it advances (from -progress
	// pipe:1); nil when the caller does not care.
	progress func(outTime time.Duration)
	// extra are handed to ffmpeg as fd 3, 4, ... (ffmpeg writes "pipe:3").
	extra []*os.File
}

// globalArgs are set on every ffmpeg run: never read stdin (a job must not
// block on a terminal), only errors on stderr, machine-readable progress on
// stdout.
func globalArgs(s *ffmpeg.Stream, progress bool) *ffmpeg.Stream {
	args := []string{"-nostdin", "-hide_banner", "-nostats", "-loglevel", "error"}
	if progress {
		args = append(args, "-progress", "pipe:1")
	}
	return s.GlobalArgs(args...).OverWriteOutput()
}

// run starts ffmpeg in its own process group and waits for it. Cancelling
// ctx kills the whole group (ffmpeg and anything it spawned). We take the
// argument list from ffmpeg-go (GetArgs) and build the exec.Cmd ourselves
// because its Compile logs every command line through the global logger and
// cannot set a process group.
func run(ctx context.Context, job ffmpegJob) error {
	args := job.stream.GetArgs()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	cmd.SysProcAttr = procAttr()
	cmd.Cancel = func() error {
		// Negative pid: the process group started above.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// If a killed ffmpeg left a grandchild holding our pipes, stop waiting.
	cmd.WaitDelay = 5 * time.Second
	errTail := &tail{max: stderrTail}
	cmd.Stderr = errTail
	if job.progress != nil {
		cmd.Stdout = &progressWriter{onTime: job.progress}
	}
	cmd.ExtraFiles = job.extra
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("ffmpeg stopped: %w", ctxErr)
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return fmt.Errorf("ffmpeg failed (%v): %s", exitErr, errTail.String())
	}
	return fmt.Errorf("ffmpeg: %w", err)
}

// progressWriter parses ffmpeg's -progress key=value stream. exec.Cmd feeds
// it from one goroutine, so it needs no locking.
type progressWriter struct {
	line   []byte
	onTime func(time.Duration)
}

func (w *progressWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.line = append(w.line, p...)
			break
		}
		w.line = append(w.line, p[:i]...)
		w.handle(w.line)
		w.line = w.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (w *progressWriter) handle(line []byte) {
	k, v, ok := bytes.Cut(bytes.TrimSpace(line), []byte("="))
	if !ok || string(k) != "out_time_us" {
		return
	}
	us, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || us < 0 { // "N/A" before the first frame
		return
	}
	w.onTime(time.Duration(us) * time.Microsecond)
}
