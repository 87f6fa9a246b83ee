// Command benchannotations measures the annotations API under load: it
// seeds one clip with 10,000 annotations (and 50 clips × 200 more), serves
// the real annotations.Handler on a loopback listener, with the real clip
// authorization of the media package, and measures a page of 200 in time
// order, the clip's summary, a time window and a revalidated summary
// (If-None-Match) in two load models:
//
//   - closed loop: -clients clients, each sending its next request as soon
//     as the previous answer arrived; this finds the maximum throughput,
//     and its latency is mostly queueing (clients / throughput);
//   - open loop: the same number of connections, with requests scheduled
//     at a fixed total rate (Poisson arrivals) and latency measured from
//     the scheduled send time, so time spent waiting for a free connection
//     or a late timer counts (no coordinated omission).
//
// It reports p50/p99 latency and requests per second for SQLite and
// PostgreSQL, the load average with every figure, and the query plan of
// the time-window query.
//
//	go run ./scripts/benchannotations -db both -clients 50 -requests 3000
//
// PostgreSQL runs in a fresh schema of -pg (default: the test server, or
// FILMROOM_TEST_POSTGRES), dropped at the end.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

func main() {
	which := flag.String("db", "both", "sqlite, postgres or both")
	pg := flag.String("pg", envOr("FILMROOM_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL server for the postgres run")
	clients := flag.Int("clients", 50, "concurrent clients (connections), in both load models")
	requests := flag.Int("requests", 3000, "requests per closed-loop scenario")
	rates := flag.String("rates", "150,75%", "open-loop total request rates, comma-separated: a number is requests/s, N% is N percent of the closed-loop rate of the same scenario; empty: closed loop only")
	openFor := flag.Duration("open-duration", 10*time.Second, "length of each open-loop run")
	cache := flag.String("cache", "on", "view cache: on, off, or both (off first, for a before/after in one run)")
	writeRate := flag.Float64("write-rate", 0, "annotations per second created through the service on the big clip during every run (each one invalidates the clip's cached views)")
	only := flag.String("scenarios", "page,summary,window,revalidate", "scenarios to run")
	big := flag.Int("big", 10000, "annotations on the big clip")
	small := flag.Int("small", 50, "number of smaller clips")
	perSmall := flag.Int("per-small", 200, "annotations per smaller clip")
	gzipOn := flag.Bool("gzip", true, "clients accept gzip, as browsers do (false: identity, as runs before the cached gzip)")
	gunzip := flag.Bool("gunzip", false, "clients also decompress the gzipped answers in this process (the runs before the cursor chain did; a browser does it on its own machine)")
	warmup := flag.Bool("warmup", true, "before each closed loop, one request per client, unmeasured, so the loop measures a warm view cache (false: the first requests compute the views)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load runs (server and clients share the process) to this file, suffixed with the database's name")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx := context.Background()
	cfg := config{clients: *clients, requests: *requests, openFor: *openFor, writeRate: *writeRate,
		big: *big, small: *small, perSmall: *perSmall, log: log, scenarios: map[string]bool{}, cpuProfile: *cpuProfile, gzip: *gzipOn,
		gunzip: *gunzip, warmup: *warmup}
	for _, s := range strings.Split(*only, ",") {
		cfg.scenarios[strings.TrimSpace(s)] = true
	}
	for _, r := range strings.Split(*rates, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		rt, err := parseRate(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cfg.rates = append(cfg.rates, rt)
	}
	switch *cache {
	case "on":
		cfg.caches = []bool{true}
	case "off":
		cfg.caches = []bool{false}
	case "both":
		cfg.caches = []bool{false, true}
	default:
		fmt.Fprintln(os.Stderr, "-cache must be on, off or both")
		os.Exit(2)
	}
	var runs []string
	switch *which {
	case "both":
		runs = []string{"sqlite", "postgres"}
	case "sqlite", "postgres":
		runs = []string{*which}
	default:
		fmt.Fprintln(os.Stderr, "-db must be sqlite, postgres or both")
		os.Exit(2)
	}
	fmt.Printf("benchannotations %s: %d clients, %d requests per closed-loop run, open loop %s per rate, write rate %g/s, GOMAXPROCS from %d CPUs\n",
		strings.Join(os.Args[1:], " "), cfg.clients, cfg.requests, cfg.openFor, cfg.writeRate, numCPU())
	var all []result
	for _, r := range runs {
		var res []result
		var err error
		if r == "sqlite" {
			res, err = runSQLite(ctx, cfg)
		} else {
			res, err = runPostgres(ctx, cfg, *pg)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", r, err)
			os.Exit(1)
		}
		all = append(all, res...)
	}
	printTable(all)
}

type config struct {
	clients, requests, big, small, perSmall int
	openFor                                 time.Duration
	rates                                   []rate
	caches                                  []bool
	writeRate                               float64
	scenarios                               map[string]bool
	cpuProfile                              string
	gzip, gunzip, warmup                    bool
	log                                     *slog.Logger
}

// rate is an open-loop rate: absolute (req/s) or a fraction of the
// closed-loop throughput of the same scenario.
type rate struct {
	perSecond float64
	fraction  float64
}

func parseRate(s string) (rate, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || f <= 0 {
			return rate{}, fmt.Errorf("-rates: %q is not a percentage", s)
		}
		return rate{fraction: f / 100}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 {
		return rate{}, fmt.Errorf("-rates: %q is not a rate", s)
	}
	return rate{perSecond: f}, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func runSQLite(ctx context.Context, cfg config) ([]result, error) {
	dir, err := os.MkdirTemp("", "benchannotations-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(dir, "bench.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return bench(ctx, "sqlite", db, cfg)
}

func runPostgres(ctx context.Context, cfg config, base string) ([]result, error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	schema := "bench_" + id.New()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return nil, fmt.Errorf("create schema (is PostgreSQL running?): %w", err)
	}
	defer admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sqldb.Open(ctx, u.String())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return bench(ctx, "postgres", db, cfg)
}
