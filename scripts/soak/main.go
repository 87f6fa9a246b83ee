// Command soak runs a real filmroom server under mixed load for a while,
// restarts it once in the middle, and then checks that nothing the server
// acknowledged was lost:
//
//	make soak                        # 10 minutes
//	SOAK_DURATION=2m make soak
//	go run ./scripts/soak -bin bin/filmroom -duration 2m -db postgres://postgres@127.0.0.1:5432/postgres
//
// It starts `filmroom serve` as a child process on a free port with its own
// data folder (SQLite and the local media store; with -db a fresh
// PostgreSQL database it drops at the end), creates users with
// `filmroom user add` and a group through the API, and runs concurrent tus
// uploads of generated clips (which the server transcodes and captions),
// annotation writes over REST and the live websocket, room members joining
// and leaving, and reads. Halfway it kills the server (-restart kill: kill
// -9 of its process group, a crash; -restart term: SIGTERM, a graceful
// restart) and starts it again on the same data; clients reconnect with
// `since` and uploads resume.
//
// At the end it checks, and exits 1 when one fails: every acknowledged
// annotation write is in the database exactly once with the acknowledged
// body; every upload's stored original has the SHA-256 the client computed;
// every upload became ready; the server's goroutines did not grow and its
// heap in use is within 10 % of the level measured after warm-up (after the
// restart, since a restart resets the process); and no operation failed
// more often than -max-error-rate outside the restart window. See
// docs/security.md ("The soak").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/filmroom/filmroom/internal/sqldb"
)

type options struct {
	bin, dbAdmin, metricsURL, restart, dataDir string
	serverArgs                                 []string
	duration, warmup, retryFor, readyWait      time.Duration
	chunkPause, settleMax                      time.Duration
	chunk                                      int64
	uploaders, annotators, members, readers    int
	reviewClips                                int
	heapMetric                                 string
	heapTolerance, goroutineSlack, maxErrRate  float64
	keep                                       bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var o options
	var sargs multiFlag
	flag.StringVar(&o.bin, "bin", "bin/filmroom", "the filmroom binary to run")
	flag.StringVar(&o.dbAdmin, "db", "", "PostgreSQL URL to create a fresh database on (empty: SQLite in the data folder)")
	flag.StringVar(&o.metricsURL, "metrics-url", "", "the server's Prometheus endpoint (default: http://<its address>/metrics)")
	flag.StringVar(&o.restart, "restart", "kill", "how the server is restarted halfway: kill (kill -9, a crash) or term (SIGTERM, graceful)")
	flag.StringVar(&o.dataDir, "data-dir", "", "data folder for the server (default: a new temp folder, removed on success)")
	flag.Var(&sargs, "server-arg", "extra argument for `filmroom serve` (repeatable), e.g. -server-arg=--workers=2")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs (the restart is at half)")
	flag.DurationVar(&o.warmup, "warmup", time.Minute, "load after the restart before the base heap and goroutines are measured")
	flag.DurationVar(&o.retryFor, "retry-for", 2*time.Minute, "how long a client retries one write through failures")
	flag.DurationVar(&o.readyWait, "ready-wait", 3*time.Minute, "how long an uploader waits for its clip to become ready")
	flag.DurationVar(&o.chunkPause, "chunk-pause", 200*time.Millisecond, "pause between tus PATCHes (keeps uploads in flight)")
	flag.DurationVar(&o.settleMax, "settle-max", 3*time.Minute, "longest wait for garbage collections when settling")
	flag.Int64Var(&o.chunk, "chunk", 16<<10, "bytes per tus PATCH")
	flag.IntVar(&o.uploaders, "uploaders", 4, "concurrent uploaders")
	flag.IntVar(&o.annotators, "annotators", 4, "concurrent REST annotation writers")
	flag.IntVar(&o.members, "members", 8, "concurrent live-room members (joining, writing, leaving)")
	flag.IntVar(&o.readers, "readers", 2, "concurrent readers")
	flag.IntVar(&o.reviewClips, "review-clips", 8, "clips under review (annotated, joined, paged); later uploads are only transcoded, checked and played")
	flag.StringVar(&o.heapMetric, "heap-metric", "alloc", "heap figure judged: alloc (live bytes after a collection) or inuse (bytes in in-use spans)")
	flag.Float64Var(&o.heapTolerance, "heap-tolerance", 0.10, "heap in use allowed above the post-warm-up level (fraction)")
	flag.Float64Var(&o.goroutineSlack, "goroutine-slack", 5, "goroutines allowed above the post-warm-up count")
	flag.Float64Var(&o.maxErrRate, "max-error-rate", 0.01, "largest error rate of one operation outside the restart window")
	flag.BoolVar(&o.keep, "keep", false, "keep the data folder even when every check passes")
	flag.Parse()
	o.serverArgs = sargs
	if o.heapMetric != "alloc" && o.heapMetric != "inuse" {
		fmt.Fprintln(os.Stderr, "soak: -heap-metric must be alloc or inuse")
		os.Exit(2)
	}
	if o.restart != "kill" && o.restart != "term" {
		fmt.Fprintln(os.Stderr, "soak: -restart must be kill or term")
		os.Exit(2)
	}
	ok, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		fmt.Println("SOAK FAILED")
		os.Exit(1)
	}
	fmt.Println("SOAK PASSED")
}

func logf(format string, args ...any) {
	fmt.Printf("%s  "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, args...)...)
}

func run(o options) (ok bool, err error) {
	ctx := context.Background()
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(bin); err != nil {
		return false, fmt.Errorf("%s: %w (run make build)", bin, err)
	}
	dataDir := o.dataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "filmroom-soak-"); err != nil {
			return false, err
		}
	}
	tmp := filepath.Join(dataDir, "driver")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return false, err
	}
	var dbURL string
	dropDB := func() {}
	if o.dbAdmin != "" {
		u, drop, err := createPostgres(ctx, o.dbAdmin)
		if err != nil {
			return false, err
		}
		defer drop()
		dbURL, dropDB = u, drop
	}
	srv, err := newServerProc(bin, filepath.Join(dataDir, "server"), dbURL, o.serverArgs)
	if err != nil {
		return false, err
	}
	// The server runs in its own process group (so kill -9 reaches its
	// ffmpeg children), which a Ctrl-C does not reach: stop it ourselves.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		_ = srv.stop(true)
		dropDB()
		fmt.Fprintf(os.Stderr, "soak: interrupted; data folder kept: %s\n", dataDir)
		os.Exit(130)
	}()
	if err := os.MkdirAll(srv.dataDir, 0o755); err != nil {
		return false, err
	}
	defer func() {
		_ = srv.stop(true)
		if ok && !o.keep && o.dataDir == "" {
			os.RemoveAll(dataDir)
		} else {
			fmt.Printf("data folder kept: %s (server log: %s)\n", dataDir, srv.logPath)
		}
	}()
	metricsURL := o.metricsURL
	if metricsURL == "" {
		metricsURL = srv.base() + "/metrics"
	}
	logf("server data %s, database %s, listening on %s", srv.dataDir, map[bool]string{true: "PostgreSQL", false: "SQLite"}[dbURL != ""], srv.addr)

	s := &soak{run: fmt.Sprintf("soak%d", time.Now().Unix()), tmp: tmp, st: newStats(), led: newLedger(), opts: o}
	s.pool.max = o.reviewClips
	if err := setup(ctx, srv, s); err != nil {
		return false, err
	}

	half := o.duration / 2
	phase2 := max(o.duration-half-o.warmup, 30*time.Second)
	logf("load phase 1: %v, then restart (%s), %v warm-up", half, o.restart, o.warmup)
	ctx1, cancel1 := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { s.load(ctx1); close(done1) }()
	time.Sleep(half)
	// Restart while uploads are in flight, so they must resume.
	for wait := time.Now().Add(30 * time.Second); s.inFlight.Load() == 0 && time.Now().Before(wait); {
		time.Sleep(20 * time.Millisecond)
	}
	inflight := s.inFlight.Load()
	s.st.restarting(true)
	killedAt := time.Now()
	if err := srv.stop(o.restart == "kill"); err != nil {
		logf("stop: %v", err)
	}
	if err := srv.start(ctx); err != nil {
		cancel1()
		return false, fmt.Errorf("restart: %w", err)
	}
	s.st.restarting(false)
	downFor := time.Since(killedAt)
	logf("server restarted (%s, %d uploads were in flight) in %v; warming up", o.restart, inflight, downFor.Round(time.Millisecond))
	time.Sleep(o.warmup)
	cancel1()
	logf("pausing load to measure the post-warm-up level")
	<-done1
	s.drainClips(ctx, s.opts.readyWait/3)
	s.closeIdle()
	base, err := settle(metricsURL, srv.metricsToken, s)
	if err != nil {
		return false, fmt.Errorf("post-warm-up settle: %w", err)
	}
	logf("post-warm-up: %d goroutines, heap alloc %.2f MiB, in use %.2f MiB", int(base.Goroutines), base.HeapAlloc/(1<<20), base.HeapInuse/(1<<20))

	logf("load phase 2: %v", phase2)
	ctx2, cancel2 := context.WithTimeout(ctx, phase2)
	s.load(ctx2)
	cancel2()
	logf("load stopped; every started upload has finished or given up")
	s.drainClips(ctx, s.opts.readyWait)
	s.closeIdle()
	final, err := settle(metricsURL, srv.metricsToken, s)
	if err != nil {
		return false, fmt.Errorf("final settle: %w", err)
	}
	logf("final: %d goroutines, heap alloc %.2f MiB, in use %.2f MiB", int(final.Goroutines), final.HeapAlloc/(1<<20), final.HeapInuse/(1<<20))
	if err := srv.stop(false); err != nil {
		logf("stop: %v", err)
	}

	// The checks, on the data the server left.
	var rep strings.Builder
	rec, err := reconcileDB(ctx, srv, s)
	if err != nil {
		return false, err
	}
	sha := checkUploads(srv, s.led.uploads)
	res := JudgeResources(base, final, o.goroutineSlack, o.heapTolerance, o.heapMetric)
	worstOp, worst := s.st.report(&rep)
	errOK := worst <= o.maxErrRate

	fmt.Printf("\n== soak report: %v of load, %s restart (down %v), %s ==\n", o.duration, o.restart, downFor.Round(time.Millisecond),
		map[bool]string{true: "PostgreSQL", false: "SQLite"}[dbURL != ""])
	fmt.Print(rep.String())
	fmt.Printf("uploads in flight at the restart: %d; tus resumes (HEAD then PATCH on): %d; room reconnects with since: %d; events delivered twice or out of order: %d\n",
		inflight, s.resumed.Load(), s.reconn.Load(), s.dupes.Load())
	verdict := func(good bool) string { return map[bool]string{true: "PASS", false: "FAIL"}[good] }
	fmt.Printf("%s annotations: %d acknowledged writes on %d annotations; lost %d, duplicated %d, wrong body %d; unacknowledged but stored %d; uncertain edits %d\n",
		verdict(rec.OK()), rec.Acked, rec.Annotations, len(rec.Lost), len(rec.Duplicated), len(rec.Mismatched), rec.Unacked, rec.Uncertain)
	for _, l := range [][]string{rec.Lost, rec.Duplicated, rec.Mismatched} {
		for i, x := range l {
			if i == 10 {
				fmt.Printf("    … %d more\n", len(l)-10)
				break
			}
			fmt.Println("    ", x)
		}
	}
	fmt.Printf("%s uploads SHA-256: %d uploads, %d intact, %d mismatched\n", verdict(sha.mismatched == 0), sha.total, sha.intact, sha.mismatched)
	fmt.Printf("%s uploads ready: %d ready, %d not ready\n", verdict(sha.notReady == 0), sha.ready, sha.notReady)
	for r, n := range sha.reasons {
		fmt.Printf("     %d × %s\n", n, r)
	}
	fmt.Printf("%s goroutines: %d after warm-up, %d at the end (slack %d)\n", verdict(res.GoroutinesOK), int(base.Goroutines), int(final.Goroutines), int(o.goroutineSlack))
	fmt.Printf("%s heap (%s, judged): alloc %.2f → %.2f MiB (%+.1f %%), in use %.2f → %.2f MiB (%+.1f %%); tolerance %.0f %%\n",
		verdict(res.HeapOK), o.heapMetric, base.HeapAlloc/(1<<20), final.HeapAlloc/(1<<20), 100*(final.HeapAlloc/base.HeapAlloc-1),
		base.HeapInuse/(1<<20), final.HeapInuse/(1<<20), 100*(final.HeapInuse/base.HeapInuse-1), 100*o.heapTolerance)
	fmt.Printf("%s error rate outside the restart window: worst %.3f %% (%s), limit %.3f %%\n", verdict(errOK), 100*worst, worstOp, 100*o.maxErrRate)
	dupOK := s.dupes.Load() == 0
	fmt.Printf("%s live events: none delivered twice or out of order\n", verdict(dupOK))
	return rec.OK() && sha.mismatched == 0 && sha.notReady == 0 && res.OK() && errOK && dupOK, nil
}

// setup creates the accounts (owner and facilitator, teachers, coaches),
// one group everyone belongs to, and one ready clip per teacher.
func setup(ctx context.Context, srv *serverProc, s *soak) error {
	const pw = "soak-password-1234"
	type person struct {
		email, name, role string
	}
	people := []person{{"owner@soak.test", "Olive Owner", ""}}
	for i := 1; i <= 3; i++ {
		people = append(people, person{fmt.Sprintf("teacher%d@soak.test", i), fmt.Sprintf("Tess Teacher %d", i), "teacher"})
		people = append(people, person{fmt.Sprintf("coach%d@soak.test", i), fmt.Sprintf("Cora Coach %d", i), "coach"})
	}
	for i, p := range people {
		if err := srv.addUser(ctx, p.email, p.name, pw, i == 0); err != nil {
			return err
		}
	}
	if err := srv.start(ctx); err != nil {
		return err
	}
	owner, err := signIn(ctx, srv.base(), people[0].email, pw)
	if err != nil {
		return err
	}
	var g struct {
		Group struct {
			ID string `json:"id"`
		} `json:"group"`
	}
	if _, err := owner.do(ctx, "POST", "/api/v1/groups", map[string]any{"name": "Soak group"}, &g); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	s.groupID = g.Group.ID
	s.everyone = append(s.everyone, owner)
	for _, p := range people[1:] {
		c, err := signIn(ctx, srv.base(), p.email, pw)
		if err != nil {
			return err
		}
		var inv struct {
			Invitation struct {
				Token string `json:"token"`
			} `json:"invitation"`
		}
		if _, err := owner.do(ctx, "POST", "/api/v1/groups/"+s.groupID+"/invitations", map[string]any{"role": p.role}, &inv); err != nil {
			return fmt.Errorf("invite %s: %w", p.email, err)
		}
		if _, err := c.do(ctx, "POST", "/api/v1/invitations/"+inv.Invitation.Token+"/accept", map[string]any{}, nil); err != nil {
			return fmt.Errorf("%s accepts: %w", p.email, err)
		}
		s.everyone = append(s.everyone, c)
		if p.role == "teacher" {
			s.teachers = append(s.teachers, c)
		}
	}
	logf("%d users in one group; seeding one clip per teacher", len(s.everyone))
	for _, t := range s.teachers {
		s.uploadOne(ctx, t, s.next())
	}
	if s.pool.pick() == "" {
		return errors.New("no seed clip became ready; see the server log")
	}
	return nil
}

// drainClips waits (at most for wait in all) until every uploaded clip is
// ready or failed, so no transcode runs while the server is measured; a clip
// stuck in processing only costs the wait, and the checks report it.
func (s *soak) drainClips(ctx context.Context, wait time.Duration) {
	last := time.Now().Add(wait)
	for _, u := range s.led.uploads {
		if u.Err == "" && u.Status != "ready" && u.Status != "failed" {
			s.awaitClip(ctx, s.clientOf(u.User), u, last)
		}
	}
}

func (s *soak) clientOf(email string) *client {
	for _, c := range s.everyone {
		if c.name == email {
			return c
		}
	}
	return s.everyone[0]
}

// closeIdle drops the driver's idle keep-alive connections, so their
// server-side goroutines end before a measurement.
func (s *soak) closeIdle() {
	for _, c := range s.everyone {
		c.http.CloseIdleConnections()
	}
}

// reconcileDB reads every annotation of this run from the database the
// server used and reconciles it with the acknowledged writes.
func reconcileDB(ctx context.Context, srv *serverProc, s *soak) (Reconciliation, error) {
	u := srv.dbURL
	if u == "" {
		u = "sqlite:" + filepath.Join(srv.dataDir, "filmroom.db")
	}
	db, err := sqldb.Open(ctx, u)
	if err != nil {
		return Reconciliation{}, fmt.Errorf("open the soak database: %w", err)
	}
	defer db.Close()
	rows, err := db.Reader().Query(ctx, `SELECT id, COALESCE(idempotency_key, ''), body, deleted_at IS NOT NULL FROM annotations WHERE idempotency_key LIKE ?`, s.run+"-%")
	if err != nil {
		return Reconciliation{}, fmt.Errorf("read annotations: %w", err)
	}
	defer rows.Close()
	var got []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.Key, &r.Body, &r.Deleted); err != nil {
			return Reconciliation{}, fmt.Errorf("read annotations: %w", err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return Reconciliation{}, fmt.Errorf("read annotations: %w", err)
	}
	return Reconcile(s.led.acks, got, s.led.uncertain), nil
}

type uploadCheck struct {
	total, intact, mismatched, ready, notReady int
	reasons                                    map[string]int
}

// checkUploads hashes each upload's stored original (the local store keeps
// it at media/clips/<clip>/source/original) against the client's hash.
func checkUploads(srv *serverProc, ups []*uploadRec) uploadCheck {
	c := uploadCheck{reasons: map[string]int{}}
	for _, u := range ups {
		c.total++
		if u.Status == "ready" {
			c.ready++
		} else {
			c.notReady++
			switch {
			case u.Err != "":
				c.reasons["upload failed: "+trim(u.Err, 80)]++
			case u.ClipID == "":
				c.reasons["no clip for the upload"]++
			case u.Status == "failed":
				c.reasons["failed: "+trim(u.Failure, 80)]++
			default:
				c.reasons["still "+u.Status]++
			}
		}
		if u.ClipID == "" {
			continue
		}
		sum, err := fileSHA256(filepath.Join(srv.dataDir, "media", "clips", u.ClipID, "source", "original"))
		if err == nil && sum == u.SHA256 {
			c.intact++
		} else {
			c.mismatched++
			if err != nil {
				c.reasons["original unreadable: "+trim(err.Error(), 80)]++
			} else {
				c.reasons["original's SHA-256 differs"]++
			}
		}
	}
	return c
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
