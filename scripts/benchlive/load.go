package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/filmroom/filmroom/annotations/live"
)

func numCPU() int { return runtime.NumCPU() }

// procStat reads a process's CPU time (user+system) and resident memory.
func procStat(pid int) (cpu time.Duration, rssKB int64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// Fields after the ")" of the command name: utime and stime are
		// the 12th and 13th, in clock ticks (100 per second on Linux).
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			cpu = time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				f := strings.Fields(line)
				rssKB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return cpu, rssKB
}

// conn is one bench client.
type conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex
}

var dialer = &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}

func dialRoom(addr, clip, user string) (*conn, error) {
	h := http.Header{"X-Bench-User": {user}}
	ws, _, err := dialer.Dial("ws://"+addr+"/api/clips/"+clip+"/live", h)
	if err != nil {
		return nil, err
	}
	c := &conn{ws: ws}
	if err := c.send(map[string]any{"type": "hello", "v": 1}); err != nil {
		ws.Close()
		return nil, err
	}
	// Wait for the welcome so the client is in the room when we return.
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, err
		}
		if bytes.Contains(b, []byte(`"type":"welcome"`)) {
			return c, nil
		}
	}
}

func (c *conn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// latencies collects delivery latencies from every reader.
type latencies struct {
	mu sync.Mutex
	v  []time.Duration
	n  atomic.Int64
}

func (l *latencies) add(d time.Duration) {
	l.n.Add(1)
	l.mu.Lock()
	l.v = append(l.v, d)
	l.mu.Unlock()
}

func (l *latencies) merge(o *latencies) {
	o.mu.Lock()
	v := append([]time.Duration(nil), o.v...)
	o.mu.Unlock()
	l.mu.Lock()
	l.v = append(l.v, v...)
	l.mu.Unlock()
	l.n.Add(int64(len(v)))
}

func rnd(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

func (l *latencies) pct(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.v) == 0 {
		return 0
	}
	sort.Slice(l.v, func(i, j int) bool { return l.v[i] < l.v[j] })
	return l.v[min(len(l.v)-1, int(p*float64(len(l.v))))]
}

var (
	sentKey     = []byte(`"sent_ns":`)
	atKey       = []byte(`"at":"`)
	eventPrefix = []byte(`{"type":"event"`)
)

// nodeLat is what the clients of one hub measured: the whole delivery
// (client send → client receipt) and its second half (the event's commit,
// stamped by the appending hub in "at", → client receipt).
type nodeLat struct {
	total, fromCommit latencies
	mu                sync.Mutex
	worst             map[int64]time.Duration // by the event's sent_ns
}

// readLoop records the latency of every annotation event until the
// connection closes.
func (c *conn) readLoop(lat *nodeLat, measuring *atomic.Bool) {
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if !measuring.Load() || !bytes.HasPrefix(b, eventPrefix) {
			continue // acks echo the body too; count events only
		}
		now := time.Now()
		i := bytes.Index(b, sentKey)
		if i < 0 {
			continue
		}
		j := i + len(sentKey)
		k := j
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		ns, err := strconv.ParseInt(string(b[j:k]), 10, 64)
		if err == nil {
			lat.total.add(now.Sub(time.Unix(0, ns)))
			lat.mu.Lock()
			if lat.worst == nil {
				lat.worst = map[int64]time.Duration{}
			}
			if d := now.Sub(time.Unix(0, ns)); d > lat.worst[ns] {
				lat.worst[ns] = d
			}
			lat.mu.Unlock()
		}
		if i := bytes.Index(b, atKey); i >= 0 {
			j := i + len(atKey)
			if k := bytes.IndexByte(b[j:], '"'); k > 0 {
				if at, err := time.Parse(time.RFC3339Nano, string(b[j:j+k])); err == nil {
					lat.fromCommit.add(now.Sub(at))
				}
			}
		}
	}
}

// load runs rooms × perRoom clients against nodes hubs and publishes
// b.rate annotations per second in total, round-robin over the rooms, each
// from one of the first clients of the room on node A (so no client passes
// its own rate limit).
// loadResult is one load run's delivery latency over every client.
type loadResult struct {
	p50, p99 time.Duration
	pressure float64 // fraction of the run some task waited for a CPU
}

func (b *bench) load(name, title, dbURL, natsURL string, rooms, perRoom, nodes int) (res loadResult, err error) {
	var servers []*server
	for i := 0; i < nodes; i++ {
		s, err := startServer(dbURL, natsURL, string(rune('A'+i)))
		if err != nil {
			return res, err
		}
		defer s.stop()
		servers = append(servers, s)
	}
	time.Sleep(200 * time.Millisecond)
	var base []int64
	for _, s := range servers {
		_, rss := procStat(s.cmd.Process.Pid)
		base = append(base, rss)
	}
	clients := make([][]*conn, rooms)
	lat := make([]nodeLat, nodes)
	var measuring atomic.Bool
	for r := 0; r < rooms; r++ {
		for i := 0; i < perRoom; i++ {
			n := i % nodes
			if i < 10 {
				n = 0 // writers sit on node A
			}
			s := servers[n]
			c, err := dialRoom(s.addr, b.clips[r], fmt.Sprintf("u%d-%d", r, i))
			if err != nil {
				return res, fmt.Errorf("connect client %d of room %d: %w", i, r, err)
			}
			defer c.ws.Close()
			clients[r] = append(clients[r], c)
			go c.readLoop(&lat[n], &measuring)
		}
	}
	// Let the join storm's presence messages drain before measuring.
	time.Sleep(time.Second)
	var cpu0 []time.Duration
	for _, s := range servers {
		c, _ := procStat(s.cmd.Process.Pid)
		cpu0 = append(cpu0, c)
	}
	stats0 := make([]live.Stats, nodes)
	for i, s := range servers {
		stats0[i] = s.stats()
	}
	for _, s := range servers {
		s.stalls()
	}
	b.stalls.take()
	psi0, psiOK := cpuPressure()
	measuring.Store(true)
	start := time.Now()
	traced := b.traceHubs(name, servers)
	tick := time.NewTicker(time.Duration(float64(time.Second) / b.rate))
	sent := 0
	for time.Since(start) < b.duration {
		<-tick.C
		r := sent % rooms
		w := clients[r][(sent/rooms)%min(10, perRoom)]
		body := map[string]any{"text": "bench", "start_ms": sent, "sent_ns": time.Now().UnixNano()}
		if err := w.send(map[string]any{"type": "annotation.create", "ref": strconv.Itoa(sent), "body": body}); err != nil {
			return res, fmt.Errorf("send: %w", err)
		}
		sent++
	}
	tick.Stop()
	time.Sleep(time.Second) // let the last events arrive
	measuring.Store(false)
	elapsed := time.Since(start)
	traced()
	psi1, _ := cpuPressure()
	driverStalls := b.stalls.take()
	total := rooms * perRoom
	var all latencies
	for i := range lat {
		all.merge(&lat[i].total)
	}
	fmt.Printf("\n%s\n", title)
	fmt.Printf("  %d annotations in %.1f s (%.0f/s), %d deliveries (%.0f msg/s), expected %d\n",
		sent, elapsed.Seconds()-1, float64(sent)/(elapsed.Seconds()-1), all.n.Load(), float64(all.n.Load())/elapsed.Seconds(), sent*perRoom)
	fmt.Printf("  delivery latency p50 %v, p99 %v, max %v\n", rnd(all.pct(0.5)), rnd(all.pct(0.99)), rnd(all.pct(1)))
	for i, s := range servers {
		cpu, rss := procStat(s.cmd.Process.Pid)
		conns := total / nodes
		st := s.stats()
		fmt.Printf("  hub %c: CPU %.0f%% of one core, RSS %.1f MiB (%.1f KiB per connection over the %.1f MiB idle server, %d connections)\n",
			'A'+i, 100*(cpu-cpu0[i]).Seconds()/elapsed.Seconds(), float64(rss)/1024, float64(rss-base[i])/float64(conns), float64(base[i])/1024, conns)
		fmt.Printf("    its clients: latency p50 %v, p99 %v, max %v; from the commit: p50 %v, p99 %v; log reads for out-of-order events %d, by the repair loop %d\n",
			rnd(lat[i].total.pct(0.5)), rnd(lat[i].total.pct(0.99)), rnd(lat[i].total.pct(1)),
			rnd(lat[i].fromCommit.pct(0.5)), rnd(lat[i].fromCommit.pct(0.99)),
			st.GapReads-stats0[i].GapReads, st.RepairReads-stats0[i].RepairReads)
		fmt.Printf("    its scheduling: %v\n", s.stalls())
	}
	fmt.Printf("  driver scheduling: %v\n", driverStalls)
	if psiOK {
		res.pressure = float64(psi1-psi0) / 1e6 / elapsed.Seconds()
		fmt.Printf("  machine: some task waited for a CPU during %.0f%% of the run (PSI)\n", 100*res.pressure)
	}
	res.p50, res.p99 = all.pct(0.5), all.pct(0.99)
	if b.verbose {
		for i := range lat {
			type ev struct {
				at time.Duration
				d  time.Duration
			}
			var evs []ev
			for ns, d := range lat[i].worst {
				evs = append(evs, ev{time.Unix(0, ns).Sub(start), d})
			}
			sort.Slice(evs, func(a, b int) bool { return evs[a].d > evs[b].d })
			fmt.Printf("    slowest events on %c (time into the run: worst delivery):", 'A'+i)
			for _, e := range evs[:min(10, len(evs))] {
				fmt.Printf(" %.2fs:%v", e.at.Seconds(), rnd(e.d))
			}
			fmt.Println()
		}
	}
	return res, nil
}

// idle holds n connections to one hub, spread over 100 rooms, and reports
// the server's memory per connection.
func (b *bench) idle(dbURL string, n int) error {
	s, err := startServer(dbURL, "", "A")
	if err != nil {
		return err
	}
	defer s.stop()
	time.Sleep(200 * time.Millisecond)
	_, base := procStat(s.cmd.Process.Pid)
	start := time.Now()
	conns := make([]*conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.ws.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := dialRoom(s.addr, b.clips[i%100], fmt.Sprintf("idle%d", i))
		if err != nil {
			return fmt.Errorf("idle connection %d: %w", i, err)
		}
		conns = append(conns, c)
		go func() {
			for {
				if _, _, err := c.ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	setup := time.Since(start)
	time.Sleep(2 * time.Second)
	cpu0, _ := procStat(s.cmd.Process.Pid)
	time.Sleep(3 * time.Second)
	cpu1, rss := procStat(s.cmd.Process.Pid)
	fmt.Printf("\nidle: %d connections in 100 rooms (connected in %.1f s)\n", n, setup.Seconds())
	fmt.Printf("  hub RSS %.1f MiB: %.1f KiB per idle connection over the %.1f MiB idle server; CPU while idle %.1f%% of one core\n",
		float64(rss)/1024, float64(rss-base)/float64(n), float64(base)/1024, 100*(cpu1-cpu0).Seconds()/3)
	if m, err := s.memstats(); err == nil {
		fmt.Printf("  after a forced GC: live heap %.1f KiB and goroutine stacks %.1f KiB per connection, %.1f goroutines per connection\n",
			float64(m["heap_alloc"])/1024/float64(n), float64(m["stack_inuse"])/1024/float64(n), float64(m["goroutines"])/float64(n))
	}
	if b.traceDir != "" {
		if err := fetch("http://"+s.addr+"/debug/pprof/heap", filepath.Join(b.traceDir, "idle-hubA.heap")); err != nil {
			fmt.Fprintln(os.Stderr, "benchlive: heap profile:", err)
		}
	}
	return nil
}

// stats reads the hub's counters (zero when it cannot).
func (s *server) stats() live.Stats {
	var st live.Stats
	resp, err := http.Get("http://" + s.addr + "/debug/stats")
	if err != nil {
		return st
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&st)
	return st
}

// memstats reads the hub's memory after a forced GC.
func (s *server) memstats() (map[string]uint64, error) {
	resp, err := http.Get("http://" + s.addr + "/debug/memstats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]uint64{}
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// stalls reads and resets the hub's scheduling-lateness counts.
func (s *server) stalls() StallReport {
	var r StallReport
	resp, err := http.Get("http://" + s.addr + "/debug/stalls")
	if err != nil {
		return r
	}
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r
}

// traceHubs, with -trace, records an execution trace and a CPU profile of
// every hub for the measurement, into files named after the run; the
// returned function waits for them.
func (b *bench) traceHubs(name string, servers []*server) func() {
	if b.traceDir == "" {
		return func() {}
	}
	secs := int(b.duration.Seconds())
	var wg sync.WaitGroup
	// The driver's own clients too: a stall there looks like a slow hub.
	if f, err := os.Create(filepath.Join(b.traceDir, name+"-driver.trace")); err == nil {
		if err := trace.Start(f); err == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(b.duration)
				trace.Stop()
				f.Close()
			}()
		} else {
			f.Close()
		}
	}
	for i, s := range servers {
		for _, kind := range []string{"trace", "profile"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := filepath.Join(b.traceDir, fmt.Sprintf("%s-hub%c.%s", name, 'A'+i, kind))
				if err := fetch(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", s.addr, kind, secs), path); err != nil {
					fmt.Fprintln(os.Stderr, "benchlive:", kind, err)
				}
			}()
		}
	}
	return wg.Wait
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
