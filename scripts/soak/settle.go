package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// settle measures the server at rest. The server offers no way to force a
// garbage collection from outside, so the driver makes the collector run:
// with the load stopped and every socket closed it waits for rooms and
// connections to wind down, then sends cheap reads (which allocate) until it
// has seen three collections, sampling /metrics every 50 ms. Heap in use is
// the lowest of the samples taken right after a collection (so without the
// garbage that accumulates between collections), heap alloc likewise;
// goroutines are counted once the reads have stopped.
func settle(metricsURL, metricsToken string, s *soak) (Sample, error) {
	time.Sleep(15 * time.Second) // rooms close, host hand-over timers (10 s) fire, idle conns go
	// No compression anywhere in the settle: a gzip writer is several
	// hundred KiB, and whether the server's pool happens to hold one when
	// the collector runs would be noise of several percent of the heap.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	scrape := func() (Sample, error) {
		req, err := http.NewRequest(http.MethodGet, metricsURL, nil)
		if err != nil {
			return Sample{}, err
		}
		req.Header.Set("Authorization", "Bearer "+metricsToken)
		resp, err := hc.Do(req)
		if err != nil {
			return Sample{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Sample{}, fmt.Errorf("%s: status %d", metricsURL, resp.StatusCode)
		}
		return ParseMetrics(resp.Body)
	}
	first, err := scrape()
	if err != nil {
		return Sample{}, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	owner := s.everyone[0]
	poke := &client{base: owner.base, token: owner.token, name: owner.name, http: hc}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = poke.do(context.Background(), "GET", "/api/v1/clips?scope=all", nil, nil)
			}
		}()
	}
	var heaps []Sample
	prev := first
	deadline := time.Now().Add(s.opts.settleMax)
	for len(heaps) < 3 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		cur, err := scrape()
		if err != nil {
			continue
		}
		// Skip the first collection: it may have begun while load was running.
		if cur.GCCount > prev.GCCount && cur.GCCount > first.GCCount+1 {
			heaps = append(heaps, cur)
		}
		prev = cur
	}
	close(stop)
	wg.Wait()
	if len(heaps) == 0 {
		return Sample{}, fmt.Errorf("saw no garbage collection within %v", s.opts.settleMax)
	}
	time.Sleep(2 * time.Second)
	out, err := scrape()
	if err != nil {
		return Sample{}, err
	}
	out.HeapInuse, out.HeapAlloc = heaps[0].HeapInuse, heaps[0].HeapAlloc
	for _, h := range heaps[1:] {
		out.HeapInuse, out.HeapAlloc = min(out.HeapInuse, h.HeapInuse), min(out.HeapAlloc, h.HeapAlloc)
	}
	return out, nil
}
