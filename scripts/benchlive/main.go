// Command benchlive measures the live review rooms with real websocket
// clients on loopback against hub server processes it starts itself (so the
// server's CPU and memory are measured apart from the clients'):
//
//	go run ./scripts/benchlive -scenario all
//
// Scenarios: room500 (one room × 500 clients), rooms100 (100 rooms × 10
// clients), both at -rate annotations/s in total, reporting delivery
// latency p50/p99, messages/s and server CPU and RSS per connection; idle
// (-idle connections held, RSS per idle connection); sync (ten followers
// with ±2 s clock skew and 20–200 ms latency, distance from the host's
// position after a seek); nats (room500 through two hubs over NATS, half
// the clients on each, vs one hub, alternating -pairs times and reporting
// the medians). Every run is bounded by -duration.
//
// The machine is usually shared, so every load run also reports how late
// each process got to run (a 5 ms timer's lateness in the driver and in
// each hub) and the machine's CPU pressure (the share of the run during
// which some task waited for a CPU): a tail latency measured while the
// cores were oversubscribed says more about the machine than about the
// hub. -v prints the slowest events and when they happened; -trace DIR
// records each hub's execution trace and CPU profile (and the idle hub's
// heap profile) for go tool trace / pprof.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
)

func main() {
	role := flag.String("role", "bench", "bench, or server (internal: a hub process)")
	dbURL := flag.String("db", "", "database URL (default: a SQLite file in a temp dir; the nats scenario needs PostgreSQL, see -pg)")
	pgURL := flag.String("pg", envOr("FILMROOM_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL server for the two-node run (the benchmark works in a schema of its own and drops it)")
	natsURL := flag.String("nats", envOr("FILMROOM_TEST_NATS", "nats://127.0.0.1:4222"), "NATS for the two-node run")
	node := flag.String("node", "A", "node id (server role)")
	scenario := flag.String("scenario", "all", "room500, rooms100, idle, sync, nats or all")
	duration := flag.Duration("duration", 10*time.Second, "measurement time per load scenario")
	rate := flag.Float64("rate", 50, "annotations per second in total")
	idle := flag.Int("idle", 5000, "idle connections to hold")
	pairs := flag.Int("pairs", 3, "nats scenario: how many times to run one hub and then two hubs, alternating")
	verbose := flag.Bool("v", false, "also print each load run's slowest events and when they happened")
	traceDir := flag.String("trace", "", "folder to write each hub's execution trace and CPU profile of every load run to")
	flag.Parse()
	if *role == "server" {
		if err := runServer(*dbURL, *natsURL, *node); err != nil {
			fmt.Fprintln(os.Stderr, "benchlive server:", err)
			os.Exit(1)
		}
		return
	}
	b := &bench{duration: *duration, rate: *rate, pgURL: *pgURL, natsURL: *natsURL, traceDir: *traceDir, stalls: newStallMeter(), verbose: *verbose}
	if err := b.run(*scenario, *dbURL, *idle, *pairs); err != nil {
		fmt.Fprintln(os.Stderr, "benchlive:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

type bench struct {
	duration time.Duration
	rate     float64
	pgURL    string
	natsURL  string
	traceDir string
	clips    []string
	stalls   *stallMeter // the driver's own scheduling lateness
	verbose  bool
}

func (b *bench) run(scenario, dbURL string, idle, pairs int) error {
	all := scenario == "all"
	tmp, err := os.MkdirTemp("", "benchlive")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if dbURL == "" {
		dbURL = "sqlite:" + filepath.Join(tmp, "bench.db")
	}
	if err := b.prepare(dbURL); err != nil {
		return err
	}
	fmt.Printf("benchlive: %s, database %s, %d CPUs\n", time.Now().Format(time.RFC3339), strings.SplitN(dbURL, ":", 2)[0], numCPU())
	if all || scenario == "room500" {
		if _, err := b.load("room500", "room500: 1 room × 500 clients, one hub", dbURL, "", 1, 500, 1); err != nil {
			return err
		}
	}
	if all || scenario == "rooms100" {
		if _, err := b.load("rooms100", "rooms100: 100 rooms × 10 clients, one hub", dbURL, "", 100, 10, 1); err != nil {
			return err
		}
	}
	if all || scenario == "idle" {
		if err := b.idle(dbURL, idle); err != nil {
			return err
		}
	}
	if all || scenario == "sync" {
		if err := b.syncAccuracy(dbURL); err != nil {
			return err
		}
	}
	if all || scenario == "nats" {
		pg, drop, err := ownSchema(b.pgURL)
		if err != nil {
			return fmt.Errorf("the nats scenario needs PostgreSQL (-pg): %w", err)
		}
		defer drop()
		if err := b.prepare(pg); err != nil {
			return fmt.Errorf("the nats scenario needs PostgreSQL (-pg): %w", err)
		}
		if err := b.natsPairs(pg, pairs); err != nil {
			return err
		}
	}
	return nil
}

// natsPairs runs room500 on PostgreSQL with one hub and with two hubs over
// NATS, alternating, pairs times, so both see the same background load
// on a shared machine, and reports the median of each and the difference.
func (b *bench) natsPairs(pg string, pairs int) error {
	var one, two []loadResult
	for i := 0; i < max(1, pairs); i++ {
		r, err := b.load("pg-onehub", fmt.Sprintf("room500 on PostgreSQL, one hub (memory bus), pair %d", i+1), pg, "", 1, 500, 1)
		if err != nil {
			return err
		}
		one = append(one, r)
		r, err = b.load("pg-nats", fmt.Sprintf("room500 on PostgreSQL, two hubs over NATS (250 clients each, writers on A), pair %d", i+1), pg, b.natsURL, 1, 500, 2)
		if err != nil {
			return err
		}
		two = append(two, r)
	}
	med := func(rs []loadResult, f func(loadResult) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[len(v)/2]
	}
	p50 := func(r loadResult) time.Duration { return r.p50 }
	p99 := func(r loadResult) time.Duration { return r.p99 }
	fmt.Printf("\nnats: median of %d alternating runs: one hub p50 %v, p99 %v; two hubs over NATS p50 %v, p99 %v; NATS adds %v at the median and %v at p99\n",
		len(one), rnd(med(one, p50)), rnd(med(one, p99)), rnd(med(two, p50)), rnd(med(two, p99)),
		rnd(med(two, p50)-med(one, p50)), rnd(med(two, p99)-med(one, p99)))
	return nil
}

// ownSchema creates a schema of its own on the PostgreSQL server, so the
// benchmark never touches existing tables, and returns a URL using it and
// a function that drops it.
func ownSchema(base string) (string, func(), error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	schema := "benchlive_" + id.New()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			fmt.Fprintln(os.Stderr, "benchlive: drop schema:", err)
		}
		admin.Close()
	}, nil
}

// prepare migrates the database and creates 100 clips (events need them).
func (b *bench) prepare(dbURL string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Up(ctx, []sqldb.Migrations{accounts.Migrations(), media.Migrations(), annotations.Migrations()}); err != nil {
		return err
	}
	owner := "bench-" + id.New()
	if _, err := db.Writer().Exec(ctx, `INSERT INTO users (id, email, name, password_hash, created_at, updated_at) VALUES (?, ?, 'Bench', 'x', 0, 0)`, owner, owner+"@example.org"); err != nil {
		return err
	}
	b.clips = b.clips[:0]
	for i := 0; i < 101; i++ {
		c := id.New()
		if _, err := db.Writer().Exec(ctx, `INSERT INTO clips (id, owner_id, title, status, created_at, updated_at) VALUES (?, ?, 'Bench', 'ready', 0, 0)`, c, owner); err != nil {
			return err
		}
		b.clips = append(b.clips, c)
	}
	return nil
}

// server is a hub child process.
type server struct {
	cmd  *exec.Cmd
	addr string
	stop func()
}

func startServer(dbURL, natsURL, node string) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := []string{"-role", "server", "-db", dbURL, "-node", node, "-nats", natsURL}
	if natsURL == "" {
		args = []string{"-role", "server", "-db", dbURL, "-node", node, "-nats", ""}
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	buf := make([]byte, 128)
	n, err := out.Read(buf)
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("server did not start: %w", err)
	}
	s := &server{cmd: cmd, addr: strings.TrimSpace(string(buf[:n]))}
	s.stop = func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	return s, nil
}
