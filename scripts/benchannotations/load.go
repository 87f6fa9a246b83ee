package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// target is one scenario's requests: the URL for a client (connection)
// and what to remember from an answer.
type target struct {
	// prepare sets up a request for client c (URL and headers).
	prepare func(c int) *http.Request
	// done sees every answer of client c (status and body).
	done func(c int, status int, header http.Header, body []byte)
	// ok reports whether a status counts as a success.
	ok func(status int) bool
}

// measurement is what one load run saw.
type measurement struct {
	latencies []time.Duration // sorted
	elapsed   time.Duration
	errors    int64
	bytes     int64
	loadavg   string
	// cpu is the CPU time the process (server and clients) used during
	// the run: unlike latency, it does not depend on what else the shared
	// machine runs.
	cpu time.Duration
}

func (m measurement) rate() float64 { return float64(len(m.latencies)) / m.elapsed.Seconds() }

// cpuPerRequest is the process's CPU time per answered request.
func (m measurement) cpuPerRequest() time.Duration {
	return m.cpu / time.Duration(max(1, len(m.latencies)))
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// client sends the benchmark's requests.
type client struct {
	http *http.Client
	// gzipped: the request asks for gzip itself, so Go's transport hands
	// the compressed body over as it came, and every 200 must be gzip.
	gzipped bool
}

// send does one request and reads the whole answer into buf (one per
// client connection, reused: growing a fresh 150 KB slice for every answer
// was a tenth of the process's CPU, all of it the client's).
func (cl client) send(t target, c int, buf *bytes.Buffer) (int, http.Header, []byte, error) {
	req := t.prepare(c)
	if cl.gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	buf.Reset()
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if err == nil && cl.gzipped && resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Encoding") != "gzip" {
		err = fmt.Errorf("asked for gzip, got Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	return resp.StatusCode, resp.Header, buf.Bytes(), err
}

// closedLoop runs clients that each send their next request as soon as
// the previous answer arrived, until total requests are done; latency is
// from send to the end of the body.
func closedLoop(cl client, clients, total int, t target) measurement {
	var next, errs, nbytes atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	t0, cpu0 := time.Now(), processCPU()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for next.Add(1) <= int64(total) {
				s := time.Now()
				status, hd, body, err := cl.send(t, c, &buf)
				lat[c] = append(lat[c], time.Since(s))
				nbytes.Add(int64(len(body)))
				if err != nil || !t.ok(status) {
					errs.Add(1)
					continue
				}
				if t.done != nil {
					t.done(c, status, hd, body)
				}
			}
		}()
	}
	wg.Wait()
	return finish(lat, time.Since(t0), processCPU()-cpu0, errs.Load(), nbytes.Load())
}

// openLoop sends requests at a fixed total rate with Poisson arrivals
// over clients connections, for d. Each request's latency is measured
// from its scheduled send time: when every connection is busy, or the
// scheduler's timer fires late on the loaded machine, the wait counts,
// as it would for a real user (no coordinated omission). The schedule is
// fixed in advance and never slowed down by slow answers.
func openLoop(cl client, clients int, perSecond float64, d time.Duration, t target, seed uint64) measurement {
	n := max(1, int(perSecond*d.Seconds()))
	rng := rand.New(rand.NewPCG(seed, 7))
	sched := make([]time.Duration, n)
	var at time.Duration
	for i := range sched {
		at += time.Duration(rng.ExpFloat64() / perSecond * float64(time.Second))
		sched[i] = at
	}
	queue := make(chan time.Time, n) // scheduled send times
	var errs, nbytes atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for due := range queue {
				status, hd, body, err := cl.send(t, c, &buf)
				lat[c] = append(lat[c], time.Since(due))
				nbytes.Add(int64(len(body)))
				if err != nil || !t.ok(status) {
					errs.Add(1)
					continue
				}
				if t.done != nil {
					t.done(c, status, hd, body)
				}
			}
		}()
	}
	t0, cpu0 := time.Now(), processCPU()
	for _, off := range sched {
		due := t0.Add(off)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		queue <- due
	}
	close(queue)
	wg.Wait()
	return finish(lat, time.Since(t0), processCPU()-cpu0, errs.Load(), nbytes.Load())
}

func finish(lat [][]time.Duration, elapsed, cpu time.Duration, errs, bytes int64) measurement {
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	return measurement{latencies: all, elapsed: elapsed, errors: errs, bytes: bytes, loadavg: loadavg(), cpu: cpu}
}

// loadavg reports the 1/5/15-minute load average where the system tells it
// (Linux), because on a shared machine it explains the spread of figures.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func numCPU() int { return runtime.NumCPU() }

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr[T any](v T) *T { return &v }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
