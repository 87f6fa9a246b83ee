package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/filmroom/filmroom/annotations/live"
)

// follower plays a simulated video in real time, behind an artificial
// network (one-way latency each way) and with a skewed clock, following the
// session with the reference drift algorithm of package live.
type follower struct {
	c       *conn
	skew    time.Duration // its clock − the true clock
	latency time.Duration // one way

	mu    sync.Mutex
	est   live.ClockEstimator
	ctl   live.DriftController
	st    live.SyncState
	pos   float64 // ms
	rate  float64
	frozS time.Time // a seek lands at this time
	last  time.Time
}

func (f *follower) clientNow() float64 {
	return float64(time.Now().Add(f.skew).UnixNano()) / 1e6
}

// advance moves the simulated playhead to now.
func (f *follower) advance(now time.Time) {
	if f.st.Active && f.st.Playing && now.After(f.frozS) {
		from := f.last
		if f.frozS.After(from) {
			from = f.frozS
		}
		f.pos += f.rate * float64(now.Sub(from)) / 1e6
	}
	f.last = now
}

func (f *follower) run(stop <-chan struct{}) {
	// Incoming messages are handled one latency after they arrive: a
	// delay line, so each message is late by exactly the latency, however
	// many arrive together (sleeping in the reading goroutine would add
	// the latencies of the messages queued before it).
	type arrival struct {
		due time.Time
		b   []byte
	}
	line := make(chan arrival, 1024)
	go func() {
		defer close(line)
		for {
			_, b, err := f.c.ws.ReadMessage()
			if err != nil {
				return
			}
			line <- arrival{due: time.Now().Add(f.latency), b: b}
		}
	}()
	go func() {
		for a := range line {
			time.Sleep(time.Until(a.due))
			var m struct {
				Type     string          `json:"type"`
				Event    string          `json:"event"`
				Data     json.RawMessage `json:"data"`
				T        int64           `json:"t"`
				ServerMS int64           `json:"server_ms"`
			}
			if json.Unmarshal(a.b, &m) != nil {
				continue
			}
			f.mu.Lock()
			switch {
			case m.Type == "pong":
				f.est.Add(float64(m.T)/1e3, float64(m.ServerMS), f.clientNow())
			case m.Type == "event" && len(m.Event) > 5 && m.Event[:5] == "sync.":
				var st live.SyncState
				if json.Unmarshal(m.Data, &st) == nil {
					f.advance(time.Now())
					f.st = st
					f.ctl.Reset()
				}
			}
			f.mu.Unlock()
		}
	}()
	pings := 0
	nextPing := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			if now.After(nextPing) {
				// t is in microseconds of the client clock, so the
				// estimate keeps sub-millisecond precision.
				t := int64(f.clientNow() * 1e3)
				go func() {
					time.Sleep(f.latency)
					f.c.send(map[string]any{"type": "ping", "t": t})
				}()
				pings++
				if pings < 8 {
					nextPing = now.Add(100 * time.Millisecond)
				} else {
					nextPing = now.Add(time.Second)
				}
			}
			f.mu.Lock()
			f.advance(now)
			if off, _, ok := f.est.Offset(); ok && f.st.Active && !now.Before(f.frozS) {
				c := f.ctl.Update(f.pos, f.st, f.clientNow()+off)
				if c.Seek {
					f.pos = c.SeekToMS
					f.frozS = now.Add(60 * time.Millisecond) // decoding after a seek
				}
				f.rate = c.Rate
			}
			f.mu.Unlock()
		}
	}
}

// distance is |position − where the session truly is|.
func (f *follower) distance(truth live.SyncState) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.advance(now)
	return math.Abs(f.pos - truth.Target(float64(now.UnixNano())/1e6))
}

func (b *bench) syncAccuracy(dbURL string) error {
	s, err := startServer(dbURL, "", "A")
	if err != nil {
		return err
	}
	defer s.stop()
	clip := b.clips[100]
	host, err := dialRoom(s.addr, clip, "host")
	if err != nil {
		return err
	}
	defer host.ws.Close()
	var tmu sync.Mutex
	var truth live.SyncState
	go func() {
		for {
			_, bb, err := host.ws.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				Type  string          `json:"type"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}
			if json.Unmarshal(bb, &m) == nil && m.Type == "event" {
				tmu.Lock()
				json.Unmarshal(m.Data, &truth)
				tmu.Unlock()
			}
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	stop := make(chan struct{})
	var fs []*follower
	for i := 0; i < 10; i++ {
		c, err := dialRoom(s.addr, clip, fmt.Sprintf("f%d", i))
		if err != nil {
			return err
		}
		defer c.ws.Close()
		f := &follower{c: c, rate: 1, last: time.Now(),
			skew:    time.Duration((rng.Float64()*4 - 2) * float64(time.Second)),
			latency: time.Duration(20+rng.IntN(181)) * time.Millisecond}
		fs = append(fs, f)
		go f.run(stop)
	}
	defer close(stop)
	host.send(map[string]any{"type": "sync.start", "playing": true, "position_ms": 0})
	time.Sleep(4 * time.Second)
	fmt.Printf("\nsync: 10 followers, clock skew ±2 s, one-way latency 20–200 ms, seeks land 60 ms late; the host seeks while playing\n")
	// The first seek is each follower's first: its controller does not
	// know yet how long its seeks take. The second is aimed ahead by what
	// the first taught it.
	for _, seek := range []struct {
		to   int
		what string
	}{{60000, "first seek (to 60 s; seek lag not yet learned)"}, {120000, "second seek (to 120 s; seek lag learned)"}} {
		host.send(map[string]any{"type": "sync.seek", "position_ms": seek.to})
		seekAt := time.Now()
		fmt.Printf("  %s\n", seek.what)
		checkpoints := map[time.Duration]bool{500 * time.Millisecond: true, time.Second: true, 2 * time.Second: true, 3 * time.Second: true, 5 * time.Second: true, 8 * time.Second: true}
		var worstAfter1s float64
		for after := 100 * time.Millisecond; after <= 8*time.Second; after += 100 * time.Millisecond {
			time.Sleep(time.Until(seekAt.Add(after)))
			tmu.Lock()
			tr := truth
			tmu.Unlock()
			var sum, max float64
			var detail []string
			for _, f := range fs {
				d := f.distance(tr)
				sum += d
				max = math.Max(max, d)
				f.mu.Lock()
				off, _, _ := f.est.Offset()
				detail = append(detail, fmt.Sprintf("[lat %v off-err %.1f lag %.0f dist %.1f]", f.latency, off+float64(f.skew)/1e6, f.ctl.SeekLagMS(), d))
				f.mu.Unlock()
			}
			if after >= time.Second {
				worstAfter1s = math.Max(worstAfter1s, max)
			}
			if !checkpoints[after] {
				continue
			}
			fmt.Printf("    %4.1f s after: distance from the host's position mean %6.1f ms, max %6.1f ms\n", after.Seconds(), sum/10, max)
			if b.verbose {
				fmt.Println("     ", detail)
			}
		}
		fmt.Printf("    worst follower from 1 s to 8 s after the seek (every 100 ms): %.1f ms\n", worstAfter1s)
	}
	return nil
}
