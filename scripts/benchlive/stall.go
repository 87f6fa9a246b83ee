package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// stallMeter measures how late a process gets to run: a goroutine sleeps
// for stallTick over and over and records by how much each wake-up was
// late. On an idle machine that is well under a millisecond; when the
// process is descheduled (other processes on the cores) or the Go
// scheduler is saturated, the lateness is what every goroutine of the
// process suffered at that moment, delivery included.
type stallMeter struct {
	mu    sync.Mutex
	over  [3]int64 // wake-ups late by more than 10, 20 and 50 ms
	worst time.Duration
}

const stallTick = 5 * time.Millisecond

// StallReport is a stallMeter's counts since the last reset.
type StallReport struct {
	Over10ms, Over20ms, Over50ms int64
	Worst                        time.Duration
}

func newStallMeter() *stallMeter {
	m := &stallMeter{}
	go func() {
		for {
			t := time.Now()
			time.Sleep(stallTick)
			m.record(time.Since(t) - stallTick)
		}
	}()
	return m
}

func (m *stallMeter) record(late time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, lim := range []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond} {
		if late > lim {
			m.over[i]++
		}
	}
	m.worst = max(m.worst, late)
}

// take returns the counts and starts over.
func (m *stallMeter) take() StallReport {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := StallReport{Over10ms: m.over[0], Over20ms: m.over[1], Over50ms: m.over[2], Worst: m.worst}
	m.over, m.worst = [3]int64{}, 0
	return r
}

func (r StallReport) String() string {
	return fmt.Sprintf("%d wake-ups late by > 10 ms, %d by > 20 ms, %d by > 50 ms, worst %v",
		r.Over10ms, r.Over20ms, r.Over50ms, r.Worst.Round(100*time.Microsecond))
}

// cpuPressure reads the machine's total time (µs) during which at least one
// runnable task waited for a CPU (Linux PSI); ok is false without PSI.
func cpuPressure() (us int64, ok bool) {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0, false
	}
	for _, f := range strings.Fields(strings.SplitN(string(b), "\n", 2)[0]) {
		if v, found := strings.CutPrefix(f, "total="); found {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
