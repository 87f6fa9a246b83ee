package testsvc

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrivatePostgres is a PostgreSQL server of one test, on its own port and
// data folder, that the test may stop and start (the shared server must
// never be stopped). It is made with the installed initdb and pg_ctl; as
// root they run as the postgres user, which PostgreSQL insists on.
type PrivatePostgres struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cred *syscall.Credential
	// URL reaches the server's "postgres" database as the superuser.
	URL string
}

// postgresBin finds the folder of initdb and pg_ctl: FILMROOM_PG_BIN, else
// the newest /usr/lib/postgresql/<version>/bin (Debian's layout).
func postgresBin() (string, error) {
	if p := os.Getenv("FILMROOM_PG_BIN"); p != "" {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) == 0 {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("no pg_ctl under /usr/lib/postgresql/*/bin or on PATH; install postgresql or set FILMROOM_PG_BIN")
	}
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))))
		return vi > vj
	})
	return filepath.Dir(matches[0]), nil
}

// StartPrivatePostgres initialises and starts a PostgreSQL server for t on
// a free loopback port; it is stopped and removed when t ends. Without
// PostgreSQL's programs the test is skipped (failed in CI).
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		unavailable(t, "PostgreSQL programs", err.Error())
	}
	// A folder the server's user can reach: t.TempDir sits in a folder
	// only we may enter.
	dir, err := os.MkdirTemp("", "filmroom-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &PrivatePostgres{t: t, bin: bin, dir: dir}
	t.Cleanup(func() {
		p.Stop()
		_ = os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "a postgres user to run a private PostgreSQL as (root may not)", err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p.port = port
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if out, err := p.run("initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start()
	return p
}

func (p *PrivatePostgres) data() string { return filepath.Join(p.dir, "data") }

func (p *PrivatePostgres) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd.CombinedOutput()
}

// Start starts the server and waits until it accepts connections.
func (p *PrivatePostgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s -c fsync=off -c max_connections=100", p.port, p.dir)
	if out, err := p.run("pg_ctl", "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-o", opts, "-w", "-t", "120", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		p.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	db, err := sql.Open("pgx", p.URL)
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := db.PingContext(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("private PostgreSQL does not answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop stops the server ("fast": open connections are closed at once, as
// when a database host goes away) and waits until it is down.
func (p *PrivatePostgres) Stop() {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err != nil {
		return // not running
	}
	if out, err := p.run("pg_ctl", "-D", p.data(), "-m", "fast", "-w", "-t", "120", "stop"); err != nil {
		p.t.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
}
