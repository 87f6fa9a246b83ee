package captions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tailBuffer keeps the last tailSize bytes written to it: engines log a lot
// to stderr, and only the end explains a failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// lastLines returns the last n non-empty lines of s, joined by " | ".
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var out []string
	for i := len(lines) - 1; i >= 0 && len(out) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			out = append([]string{l}, out...)
		}
	}
	return strings.Join(out, " | ")
}

// limitedBuffer collects stdout up to max bytes and fails beyond that, so a
// runaway engine cannot exhaust memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

var errOutputTooLarge = errors.New("engine output too large")

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		return 0, errOutputTooLarge
	}
	return l.Buffer.Write(p)
}

// procSpec is one engine process to run.
type procSpec struct {
	what    string // for errors: "pocketsphinx segment 3 (00:01:20.000+40s)"
	bin     string
	args    []string
	timeout time.Duration
	stdout  io.Writer
	stderr  io.Writer // optional extra stderr consumer (progress)
}

// runProcess runs an engine with a deadline. The process gets its own
// process group and the whole group is killed on timeout or cancel, so a
// wrapper script's children cannot keep running (or keep our pipes open).
// Errors wrap ErrEngineNotFound, ErrEngineTimeout or ErrEngineFailed (with
// the end of stderr), or the parent context's error.
func runProcess(ctx context.Context, p procSpec) error {
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	cmd := exec.CommandContext(pctx, p.bin, p.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	var tail tailBuffer
	if p.stderr != nil {
		cmd.Stderr = io.MultiWriter(&tail, p.stderr)
	} else {
		cmd.Stderr = &tail
	}
	cmd.Stdout = p.stdout
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", p.what, ctx.Err())
	case errors.Is(pctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: %w: no result after %s (killed)", p.what, ErrEngineTimeout, p.timeout)
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOENT):
		return fmt.Errorf("%s: %w: %v", p.what, ErrEngineNotFound, err)
	case errors.Is(err, errOutputTooLarge):
		return fmt.Errorf("%s: %w: %v", p.what, ErrEngineFailed, err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		detail := lastLines(tail.String(), 3)
		if detail == "" {
			detail = "no error output"
		}
		return fmt.Errorf("%s: %w: %s: %s", p.what, ErrEngineFailed, ee.ProcessState.String(), detail)
	}
	return fmt.Errorf("%s: %w: %v", p.what, ErrEngineFailed, err)
}
