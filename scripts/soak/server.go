package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
)

// serverProc is `filmroom serve` running as a child process on its own
// port and data folder; it can be killed and started again on the same data.
type serverProc struct {
	bin     string
	dataDir string
	dbURL   string // empty: SQLite in dataDir
	addr    string // 127.0.0.1:port
	extra   []string
	logPath string
	// metricsToken is the bearer token the server asks for on /metrics.
	metricsToken string
	mu           sync.Mutex
	cmd          *exec.Cmd
	exited       chan struct{}
	starts       int
}

func newServerProc(bin, dataDir, dbURL string, extra []string) (*serverProc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, err
	}
	return &serverProc{bin: bin, dataDir: dataDir, dbURL: dbURL, addr: "127.0.0.1:" + strconv.Itoa(port),
		extra: extra, logPath: filepath.Join(dataDir, "server.log"), metricsToken: hex.EncodeToString(tok)}, nil
}

func (s *serverProc) base() string { return "http://" + s.addr }

// commonArgs are the flags every filmroom command of the soak shares.
func (s *serverProc) commonArgs() []string {
	args := []string{"--data-dir", s.dataDir}
	if s.dbURL != "" {
		args = append(args, "--database", s.dbURL)
	}
	return args
}

// addUser creates an account with `filmroom user add` (before serve starts,
// on the same database).
func (s *serverProc) addUser(ctx context.Context, email, name, password string, admin bool) error {
	args := append([]string{"user", "add"}, s.commonArgs()...)
	args = append(args, "--password", password)
	if admin {
		args = append(args, "--admin")
	}
	args = append(args, email, name)
	out, err := exec.CommandContext(ctx, s.bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("filmroom user add %s: %w: %s", email, err, out)
	}
	return nil
}

// start runs `filmroom serve` and waits until /readyz answers.
func (s *serverProc) start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	args := append([]string{"serve"}, s.commonArgs()...)
	// /metrics is served only with a token (or on its own address).
	args = append(args, "--listen", s.addr, "--base-url", s.base(), "--log-format", "json", "--metrics-token", s.metricsToken)
	args = append(args, s.extra...)
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its ffmpeg children die with it on kill -9 of the group
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start filmroom serve: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	s.starts++
	go func(exited chan struct{}) { _ = cmd.Wait(); logf.Close(); close(exited) }(s.exited)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("filmroom serve exited at start; see %s", s.logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(s.base() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("filmroom serve not ready after 2 minutes; see %s", s.logPath)
		}
	}
}

// stop ends the server: SIGKILL to its whole process group (a crash, with
// its ffmpeg children) when kill is set, else SIGTERM and a wait for its
// graceful drain.
func (s *serverProc) stop(kill bool) error {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if kill {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-exited:
	case <-time.After(90 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		s.mu.Lock()
		s.cmd = nil
		s.mu.Unlock()
		return fmt.Errorf("filmroom serve did not stop within 90 s of SIGTERM; killed it")
	}
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil // never signal a process id that may have been reused
	}
	s.mu.Unlock()
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// createPostgres makes a fresh database on the server at adminURL (a
// postgres:// URL whose path names the database to connect to for CREATE
// DATABASE) and returns its URL and a function that drops it.
func createPostgres(ctx context.Context, adminURL string) (string, func(), error) {
	db, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", nil, err
	}
	name := fmt.Sprintf("filmroom_soak_%d_%d", os.Getpid(), time.Now().Unix())
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := replaceDBName(adminURL, name)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	drop := func() {
		if _, err := db.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "soak: drop database %s: %v\n", name, err)
		}
		db.Close()
	}
	return u, drop, nil
}

func replaceDBName(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("postgres URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}
