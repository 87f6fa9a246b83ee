package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// The fault tests run the real binary as subprocesses, so that a kill -9
// is a kill -9. It is built once per test run (not taken from bin/, which
// may be stale) into a folder that TestMain removes.
var builtBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// filmroomBinary returns FILMROOM_BIN when set, else the binary of this
// source tree, built on first use and shared by every test of the run.
func filmroomBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FILMROOM_BIN"); p != "" {
		return p
	}
	root := testsvc.RepoRoot(t)
	builtBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "filmroom-test-bin-")
		if err != nil {
			builtBinary.err = err
			return
		}
		builtBinary.dir, builtBinary.path = dir, filepath.Join(dir, "filmroom")
		cmd := exec.Command("go", "build", "-o", builtBinary.path, ".")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			builtBinary.err = fmt.Errorf("%v\n%s", err, b)
		}
	})
	if builtBinary.err != nil {
		t.Fatalf("build filmroom: %v", builtBinary.err)
	}
	return builtBinary.path
}

// proc is one filmroom subprocess (serve or worker) with its log.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	log  string
	base string // serve only
	done chan struct{}
}

// startProc runs bin with args until the test ends (or kill9). Its output
// goes to a log file that is printed when the test fails.
func startProc(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so kill9 also takes the ffmpeg it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", name, b)
		}
	})
	return p
}

// kill9 kills the process (and its ffmpeg) with SIGKILL and waits for it.
func (p *proc) kill9() {
	p.t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill -9 %s: %v", p.name, err)
	}
	<-p.done
}

// serveArgs are the flags of a `filmroom serve` on a free port.
func serveArgs(t *testing.T, port int, dbURL, dataDir string, extra ...string) []string {
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	return append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--base-url", base,
		"--database", dbURL, "--data-dir", dataDir, "--captions-engine", "none", "--log-level", "debug"}, extra...)
}

// startServe runs `filmroom serve` and waits until /readyz answers.
func startServe(t *testing.T, name, bin string, port int, dbURL, dataDir string, extra ...string) *proc {
	t.Helper()
	p := startProc(t, name, bin, serveArgs(t, port, dbURL, dataDir, extra...)...)
	p.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, name+" ready", 90*time.Second, func() bool {
		select {
		case <-p.done:
			b, _ := os.ReadFile(p.log)
			t.Fatalf("%s exited at start:\n%s", name, b)
		default:
		}
		res, err := http.Get(p.base + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// waitFor polls cond until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, deadline time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultClip is what the fault tests read of a clip.
type faultClip struct {
	ID       string  `json:"id"`
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Notice   string  `json:"notice"`
	SHA256   string  `json:"sha256"`
	Ladder   *struct {
		State    string  `json:"state"`
		Progress float64 `json:"progress"`
	} `json:"ladder"`
	Failure *struct {
		Code, Reason string
	} `json:"failure"`
}

// ladderRunning reports whether a playable clip's ladder is being encoded.
func (c faultClip) ladderRunning() bool {
	return c.Status == "ready" && c.Ladder != nil && c.Ladder.State == media.LadderPending && c.Ladder.Progress > 0
}

func (b *browser) clip(id string) faultClip {
	b.t.Helper()
	var out struct{ Clip faultClip }
	if err := json.Unmarshal([]byte(b.must("GET", "/api/v1/clips/"+id, "", 200)), &out); err != nil {
		b.t.Fatal(err)
	}
	return out.Clip
}

// uploadedClip waits for the clip an upload made to appear in the owner's list.
func (b *browser) uploadedClip(uploadID string) string {
	b.t.Helper()
	var clipID string
	waitFor(b.t, "the clip of upload "+uploadID, 60*time.Second, func() bool {
		var list struct {
			Clips []struct {
				ID       string `json:"id"`
				UploadID string `json:"upload_id"`
			}
		}
		_ = json.Unmarshal([]byte(b.must("GET", "/api/v1/clips", "", 200)), &list)
		for _, c := range list.Clips {
			if c.UploadID == uploadID {
				clipID = c.ID
			}
		}
		return clipID != ""
	})
	return clipID
}

// tusCreate starts a tus upload and returns its path (/api/v1/uploads/…).
func (b *browser) tusCreate(size int, filename string) string {
	b.t.Helper()
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte(filename)) + ",filetype " + base64.StdEncoding.EncodeToString([]byte("video/mp4")) +
		",title " + base64.StdEncoding.EncodeToString([]byte("Lesson "+filename))
	status, body, hdr := b.call("POST", "/api/v1/uploads", "", map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta})
	if status != 201 {
		b.t.Fatalf("create upload: %d %s", status, body)
	}
	loc := hdr.Get("Location")
	return loc[strings.Index(loc, "/api/v1/uploads/"):]
}

// tusPatch sends data at offset and returns the status.
func (b *browser) tusPatch(path string, offset int, data []byte) (int, string) {
	b.t.Helper()
	status, body, _ := b.call("PATCH", path, string(data), map[string]string{"Tus-Resumable": "1.0.0",
		"Upload-Offset": strconv.Itoa(offset), "Content-Type": "application/offset+octet-stream"})
	return status, body
}

// tusOffset asks the server how much of an upload it has.
func (b *browser) tusOffset(path string) int {
	b.t.Helper()
	status, body, hdr := b.call("HEAD", path, "", map[string]string{"Tus-Resumable": "1.0.0"})
	if status != 200 {
		b.t.Fatalf("HEAD %s: %d %s", path, status, body)
	}
	n, err := strconv.Atoi(hdr.Get("Upload-Offset"))
	if err != nil {
		b.t.Fatalf("HEAD %s: Upload-Offset %q", path, hdr.Get("Upload-Offset"))
	}
	return n
}

// uploadID is the last element of an upload's path.
func uploadID(path string) string { return path[strings.LastIndex(path, "/")+1:] }

// testLog is a debug logger whose lines are printed when the test fails.
func testLog(t *testing.T) *slog.Logger {
	var buf lockedLog
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
