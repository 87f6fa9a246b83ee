package main

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/server"
)

// result is one line of the report.
type result struct {
	db, scenario, mode string
	cache              bool
	offered            float64 // open loop: the scheduled rate
	m                  measurement
	note               string
}

func (r result) print() {
	cache := "cache on"
	if !r.cache {
		cache = "cache off"
	}
	fmt.Printf("-- %-8s %-9s %-26s %-16s %5d req: p50 %7.2f ms  p99 %7.2f ms  max %7.1f ms  %6.0f req/s  cpu %4.0f µs/req  %5.1f KB/resp  errors %d  load %s%s\n",
		r.db, cache, r.scenario, r.mode, len(r.m.latencies), ms(pct(r.m.latencies, 0.50)), ms(pct(r.m.latencies, 0.99)),
		ms(pct(r.m.latencies, 1)), r.m.rate(), float64(r.m.cpuPerRequest().Nanoseconds())/1000,
		float64(r.m.bytes)/float64(max(1, len(r.m.latencies)))/1000, r.m.errors, r.m.loadavg, r.note)
}

func bench(ctx context.Context, name string, db *sqldb.DB, cfg config) ([]result, error) {
	if _, err := db.Up(ctx, []sqldb.Migrations{accounts.Migrations(), media.Migrations(), annotations.Migrations()}); err != nil {
		return nil, err
	}
	// The clip boundary the real server uses: media.Clips decides access
	// from the database on every request, so the figures include it.
	clips := media.NewClips(db, accounts.New(db, cfg.log, nil), cfg.log, nil)
	dir := server.ClipDirectory(clips)
	newService := func(cache bool) *annotations.Service {
		c := annotations.Config{DB: db, Clips: dir, Logger: cfg.log}
		if !cache {
			c.ViewCacheBytes = -1
		}
		return annotations.New(c)
	}
	t0 := time.Now()
	f, err := seed(ctx, db, newService(false), cfg)
	if err != nil {
		return nil, err
	}
	fmt.Printf("== %s: seeded %d + %d×%d annotations in %s\n", name, cfg.big, cfg.small, cfg.perSmall, time.Since(t0).Round(time.Millisecond))

	plan, err := newService(false).ExplainList(ctx, f.coach, f.bigClip, annotations.ListQuery{FromMS: ptr[int64](1200000), ToMS: ptr[int64](1260000), Limit: 200})
	if err != nil {
		return nil, err
	}
	fmt.Printf("-- plan of the time-window query (from_ms=1200000, to_ms=1260000, limit 200):\n%s\n", indent(plan))
	authPlan, err := clips.ExplainAuthorize(ctx, f.bigClip, f.coach.UserID)
	if err != nil {
		return nil, err
	}
	fmt.Printf("-- plan of the authorization query (media.Clips.Authorize, every request):\n%s\n", indent(authPlan))
	if err := costs(ctx, db, dir, newService, f); err != nil {
		return nil, err
	}

	if cfg.cpuProfile != "" {
		pf, err := os.Create(cfg.cpuProfile + "." + name)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	var results []result
	for _, cache := range cfg.caches {
		res, err := runLoad(ctx, name, cache, newService(cache), cfg, f)
		if err != nil {
			return nil, err
		}
		results = append(results, res...)
	}
	return results, nil
}

// costs times the parts of one request, one at a time on one goroutine:
// what authorization and the seq lookup cost on every request, and what a
// page or summary costs to compute (a cache miss) and to serve from the
// cache (a hit), without HTTP.
func costs(ctx context.Context, db *sqldb.DB, dir annotations.Clips, newService func(bool) *annotations.Service, f fixture) error {
	cold, warm := newService(false), newService(true)
	events := annotations.NewEventLog(db)
	page := annotations.ListQuery{Limit: 200}
	parts := []struct {
		name string
		n    int
		fn   func() error
	}{
		{"authorize (media.Clips: clip, audience, memberships)", 1000, func() error {
			_, err := dir.Authorize(ctx, f.coach, accounts.ClipView, f.bigClip)
			return err
		}},
		{"clip seq (clip_seq primary key)", 1000, func() error {
			_, err := events.Head(ctx, f.bigClip)
			return err
		}},
		{"page of 200, computed (List)", 100, func() error {
			_, err := cold.List(ctx, f.coach, f.bigClip, page)
			return err
		}},
		{"page of 200, computed + encoded (ListView, cache off)", 100, func() error {
			_, err := cold.ListView(ctx, f.coach, f.bigClip, page)
			return err
		}},
		{"page of 200, cached (ListView)", 1000, func() error {
			_, err := warm.ListView(ctx, f.coach, f.bigClip, page)
			return err
		}},
		{"page of 200, gzip made per request (the middleware, before)", 200, func() error {
			v, err := warm.ListView(ctx, f.coach, f.bigClip, page)
			if err != nil {
				return err
			}
			zw, _ := gzip.NewWriterLevel(io.Discard, annotations.GzipLevel)
			if _, err := zw.Write(v.Body); err != nil {
				return err
			}
			return zw.Close()
		}},
		{"page of 200, cached with its gzip (ListView + Gzipped)", 1000, func() error {
			v, err := warm.ListView(ctx, f.coach, f.bigClip, page)
			if err == nil {
				_ = v.Gzipped()
			}
			return err
		}},
		{"summary, computed (Summarize)", 50, func() error {
			_, err := cold.Summarize(ctx, f.coach, f.bigClip)
			return err
		}},
		{"summary, cached (SummaryView)", 1000, func() error {
			_, err := warm.SummaryView(ctx, f.coach, f.bigClip)
			return err
		}},
	}
	fmt.Printf("-- cost of one request's parts, sequential, no HTTP (load %s):\n", loadavg())
	for _, p := range parts {
		if err := p.fn(); err != nil { // warm up (and fill the cache)
			return fmt.Errorf("%s: %w", p.name, err)
		}
		t0 := time.Now()
		for range p.n {
			if err := p.fn(); err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
		}
		fmt.Printf("    %-58s %8.3f ms\n", p.name, ms(time.Since(t0))/float64(p.n))
	}
	return nil
}

// runLoad serves svc over HTTP on loopback and runs every scenario in the
// closed loop, then at each open-loop rate.
func runLoad(ctx context.Context, name string, cache bool, svc *annotations.Service, cfg config, f fixture) ([]result, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(cfg.log)
	people := map[string]accounts.Actor{"owner": f.owner, "coach": f.coach}
	g := e.Group("/api/v1", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if a, ok := people[c.Request().Header.Get("X-Bench-User")]; ok {
				c.SetRequest(c.Request().WithContext(accounts.WithActor(c.Request().Context(), a)))
			}
			return next(c)
		}
	})
	annotations.NewHandler(svc).Routes(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	base := "http://" + ln.Addr().String() + "/api/v1/clips/" + f.bigClip
	// With -gunzip the clients decompress in this process too (Go's
	// transport does it), which the closed loop feels on two cores; by
	// default they ask for gzip themselves and take the compressed bytes,
	// as a browser's decompression runs on the browser's machine.
	cl := client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.clients, MaxConnsPerHost: cfg.clients,
		DisableCompression: !cfg.gzip || !cfg.gunzip}, Timeout: 60 * time.Second}, gzipped: cfg.gzip && !cfg.gunzip}
	get := func(u string) *http.Request {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("X-Bench-User", "coach")
		return req
	}
	ok200 := func(s int) bool { return s == http.StatusOK }

	// The writer adds annotations to the big clip while the clients read,
	// through the service like the API does: each one appends a clip event
	// and so invalidates every cached view of the clip.
	var writes, writeErrs atomic.Int64
	stopWriter := func() {}
	if cfg.writeRate > 0 {
		wctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.writeRate))
			defer tick.Stop()
			rng := rand.New(rand.NewPCG(3, 4))
			for {
				select {
				case <-wctx.Done():
					return
				case <-tick.C:
				}
				_, _, err := svc.Create(wctx, f.coach, f.bigClip, annotations.AnnotationInput{StartMS: ptr(rng.Int64N(3600000)),
					Body: "Written during the benchmark", Criterion: f.criterion})
				if err != nil && wctx.Err() == nil {
					writeErrs.Add(1)
				} else if err == nil {
					writes.Add(1)
				}
			}
		}()
		stopWriter = func() { cancel(); wg.Wait() }
	}
	defer stopWriter()

	// Each client walks the clip page by page (200 per page, following the
	// cursor) and starts over at the end. The chain of cursors is read once
	// here, through the service, so a client need not decode (or, with
	// gzip, decompress) 150 KB to find the next one; the clients start
	// spread over the chain, as 50 viewers are not all on the same page.
	// Under -write-rate the chain stays valid: a cursor is a position in
	// the time order, and new annotations only move page boundaries.
	chain, err := cursorChain(ctx, svc, f)
	if err != nil {
		return nil, err
	}
	pos := make([]int, cfg.clients)
	for c := range pos {
		pos[c] = c * len(chain) / cfg.clients
	}
	var etags sync.Map
	var notModified atomic.Int64
	type scenario struct {
		key, name string
		t         target
	}
	scenarios := []scenario{
		{"page", "page of 200 (cursor walk)", target{prepare: func(c int) *http.Request {
			return get(base + "/annotations?limit=200&cursor=" + url.QueryEscape(chain[pos[c]]))
		}, done: func(c, _ int, _ http.Header, _ []byte) {
			pos[c] = (pos[c] + 1) % len(chain)
		}, ok: ok200}},
		{"summary", "summary", target{prepare: func(int) *http.Request { return get(base + "/summary") }, ok: ok200}},
		{"window", "time window 60 s", target{prepare: func(c int) *http.Request {
			from := (c * 37000) % 3540000
			return get(fmt.Sprintf("%s/annotations?limit=200&from_ms=%d&to_ms=%d", base, from, from+60000))
		}, ok: ok200}},
		// A browser revalidating the summary it holds (If-None-Match): a 304
		// without a body while the clip has not changed.
		{"revalidate", "summary, If-None-Match", target{prepare: func(c int) *http.Request {
			req := get(base + "/summary")
			if tag, ok := etags.Load(c); ok {
				req.Header.Set("If-None-Match", tag.(string))
			}
			return req
		}, done: func(c, status int, hd http.Header, _ []byte) {
			if status == http.StatusNotModified {
				notModified.Add(1)
			}
			if tag := hd.Get("ETag"); tag != "" {
				etags.Store(c, tag)
			}
		}, ok: func(s int) bool { return s == http.StatusOK || s == http.StatusNotModified }}},
	}
	var results []result
	for _, sc := range scenarios {
		if !cfg.scenarios[sc.key] {
			continue
		}
		note := func() string {
			var n string
			if sc.key == "revalidate" {
				n = fmt.Sprintf("  (%d× 304)", notModified.Swap(0))
			}
			if cfg.writeRate > 0 {
				n += fmt.Sprintf("  (%d writes so far)", writes.Load())
			}
			return n
		}
		if cfg.warmup {
			// One request per client fills the views this scenario reads
			// (every page, window and ETag the clients start with).
			if w := closedLoop(cl, cfg.clients, cfg.clients, sc.t); w.errors > 0 {
				return nil, fmt.Errorf("%s: warm-up: %d errors", sc.name, w.errors)
			}
		}
		before := svc.ViewCacheStats()
		m := closedLoop(cl, cfg.clients, cfg.requests, sc.t)
		r := result{db: name, scenario: sc.name, mode: fmt.Sprintf("closed, %d cl.", cfg.clients), cache: cache, m: m, note: note() + hitNote(before, svc.ViewCacheStats())}
		r.print()
		results = append(results, r)
		for _, rt := range cfg.rates {
			perSecond := rt.perSecond
			if rt.fraction > 0 {
				perSecond = rt.fraction * m.rate()
			}
			before := svc.ViewCacheStats()
			om := openLoop(cl, cfg.clients, perSecond, cfg.openFor, sc.t, uint64(len(results)))
			r := result{db: name, scenario: sc.name, mode: fmt.Sprintf("open, %.0f/s", perSecond), cache: cache, offered: perSecond, m: om,
				note: note() + hitNote(before, svc.ViewCacheStats())}
			r.print()
			results = append(results, r)
		}
	}
	if cfg.writeRate > 0 {
		fmt.Printf("-- %s: %d annotations written during the runs, %d failed\n", name, writes.Load(), writeErrs.Load())
	}
	if cache {
		st := svc.ViewCacheStats()
		fmt.Printf("-- %s view cache: %d hits, %d misses, %d entries, %.1f MB\n", name, st.Hits, st.Misses, st.Entries, float64(st.Bytes)/1e6)
	}
	return results, nil
}

// cursorChain is the cursors of the big clip's pages of 200 in time
// order, as the coach walks them: "" (the first page), then each page's
// next_cursor until the last.
func cursorChain(ctx context.Context, svc *annotations.Service, f fixture) ([]string, error) {
	chain := []string{""}
	for {
		p, err := svc.List(ctx, f.coach, f.bigClip, annotations.ListQuery{Limit: 200, Cursor: chain[len(chain)-1]})
		if err != nil {
			return nil, fmt.Errorf("cursor chain: %w", err)
		}
		if p.NextCursor == "" {
			return chain, nil
		}
		chain = append(chain, p.NextCursor)
	}
}

func hitNote(before, after annotations.ViewCacheStats) string {
	h, m := after.Hits-before.Hits, after.Misses-before.Misses
	if h+m == 0 {
		return ""
	}
	return fmt.Sprintf("  (cache hits %.1f%%)", 100*float64(h)/float64(h+m))
}

// printTable repeats the results as a Markdown table for the docs.
func printTable(rs []result) {
	fmt.Println()
	fmt.Println("| database | cache | scenario | load model | p50 | p99 | req/s | CPU µs/req | load average |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		cache := "on"
		if !r.cache {
			cache = "off"
		}
		fmt.Printf("| %s | %s | %s | %s | %.1f ms | %.1f ms | %.0f | %.0f | %s |\n", r.db, cache, r.scenario, r.mode,
			ms(pct(r.m.latencies, 0.50)), ms(pct(r.m.latencies, 0.99)), r.m.rate(), float64(r.m.cpuPerRequest().Nanoseconds())/1000, r.m.loadavg)
	}
}
