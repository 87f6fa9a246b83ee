package testsvc

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// NATSURL returns the NATS server the NATS runs use (FILMROOM_TEST_NATS,
// default nats://127.0.0.1:4222) after checking that it accepts
// connections: outside CI an unreachable server skips the test, in CI it
// fails it.
func NATSURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("FILMROOM_TEST_NATS")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		t.Fatalf("FILMROOM_TEST_NATS=%q is not a nats://host:port URL", u)
	}
	host := p.Host
	if p.Port() == "" {
		host = net.JoinHostPort(p.Hostname(), "4222")
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		unavailable(t, "NATS at "+redact(u), err.Error()+"; start nats-server or set FILMROOM_TEST_NATS")
		return ""
	}
	c.Close()
	return u
}

// PrivateNATS is a nats-server of the test's own, on a free port with its
// own folder, for tests that stop and start NATS (never the shared one).
type PrivateNATS struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	URL  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartNATS starts a private nats-server (the nats-server program on PATH)
// and stops it when the test ends. Without the program the test is skipped,
// or fails in CI.
func StartNATS(t testing.TB) *PrivateNATS {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		unavailable(t, "nats-server", "install the nats-server program")
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	n := &PrivateNATS{t: t, bin: bin, dir: t.TempDir(), port: port, URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	n.Start()
	t.Cleanup(n.Stop)
	return n
}

// Start runs the server (again, on the same port) and waits until it
// accepts connections.
func (n *PrivateNATS) Start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return
	}
	cmd := exec.Command(n.bin, "-a", "127.0.0.1", "-p", fmt.Sprint(n.port),
		"-l", filepath.Join(n.dir, "nats.log"), "-P", filepath.Join(n.dir, "nats.pid"))
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("start nats-server: %v", err)
	}
	n.cmd = cmd
	addr := fmt.Sprintf("127.0.0.1:%d", n.port)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		// The test binary's -timeout bounds this wait.
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL: a crash, not a graceful shutdown) and
// waits for it to exit.
func (n *PrivateNATS) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}
