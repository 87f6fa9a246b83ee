package live

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// simFollower is a follower's player and clock in a simulation that runs on
// the server's true time, in 5 ms steps. Nothing here reads a real clock.
type simFollower struct {
	skewMS         float64 // client clock − server clock
	upMS, downMS   float64 // base one-way latencies
	jitterMS       float64 // extra random delay per message, per leg
	seekDelayMS    float64 // a seek lands this late (decoding)
	stalls         [][2]float64
	rng            *rand.Rand
	tickMS         float64 // controller period (client time)
	pingEveryMS    float64
	pos, rate      float64
	seekUntil      float64
	est            ClockEstimator
	ctl            DriftController
	known          SyncState
	maxRateDev     float64
	lastCorrection Correction
}

type hostCmd struct {
	atMS float64
	st   SyncState
}

type simResult struct {
	// drift[i] is the true drift (ms) at server time i*100 ms; seen[i] is
	// the drift as the follower sees it through its clock estimate, which
	// is what the controller can act on.
	drift, seen []float64
	f           *simFollower
}

// maxAbs is the largest |drift| over [from, to) server ms.
func (r simResult) maxAbs(from, to float64) float64 { return maxAbsOf(r.drift, from, to) }

// maxSeen is the largest |drift| the follower itself saw over [from, to).
func (r simResult) maxSeen(from, to float64) float64 { return maxAbsOf(r.seen, from, to) }

func maxAbsOf(xs []float64, from, to float64) float64 {
	m := 0.0
	for i := int(from / 100); i < int(to/100) && i < len(xs); i++ {
		m = math.Max(m, math.Abs(xs[i]))
	}
	return m
}

// simulate plays the host's commands to a follower for durMS of server
// time: states reach it after the down latency, pings measure the offset,
// and the controller ticks on the follower's clock.
func simulate(f *simFollower, cmds []hostCmd, durMS float64) simResult {
	const dt = 5.0
	type inflight struct {
		arrive float64
		st     SyncState
	}
	type ping struct{ sentClient, serverAt, arrive float64 }
	var msgs []inflight
	var pings []ping
	for _, c := range cmds {
		msgs = append(msgs, inflight{arrive: c.atMS + f.downMS + f.rng.Float64()*f.jitterMS, st: c.st})
	}
	f.rate = 1
	nextTick, nextPing := 0.0, 0.0
	var res simResult
	truth := func(T float64) SyncState {
		var st SyncState
		for _, c := range cmds {
			if c.atMS <= T {
				st = c.st
			}
		}
		return st
	}
	for T := 0.0; T < durMS; T += dt {
		client := T + f.skewMS
		for i := 0; i < len(msgs); i++ {
			if msgs[i].arrive <= T {
				f.known = msgs[i].st
				f.ctl.Reset() // a new state: converge fully to it
				msgs = append(msgs[:i], msgs[i+1:]...)
				i--
			}
		}
		if T >= nextPing {
			up := f.upMS + f.rng.Float64()*f.jitterMS
			down := f.downMS + f.rng.Float64()*f.jitterMS
			pings = append(pings, ping{sentClient: client, serverAt: T + up, arrive: T + up + down})
			// Ping fast at first (as the web app does on join), then slowly.
			if len(pings) < 8 {
				nextPing = T + 100
			} else {
				nextPing = T + f.pingEveryMS
			}
		}
		for i := 0; i < len(pings); i++ {
			if pings[i].arrive <= T {
				f.est.Add(pings[i].sentClient, pings[i].serverAt, pings[i].arrive+f.skewMS)
				pings = append(pings[:i], pings[i+1:]...)
				i--
			}
		}
		stalled := false
		for _, s := range f.stalls {
			if T >= s[0] && T < s[1] {
				stalled = true
			}
		}
		if f.known.Active && f.known.Playing && !stalled && T >= f.seekUntil {
			f.pos += f.rate * dt
		}
		// The player skips ticks while it reports waiting or seeking (the
		// browser's "waiting"/"seeking" events): it cannot act on a rate
		// then, and the position it reports is not moving.
		if T >= nextTick && !stalled && T >= f.seekUntil {
			nextTick = T + f.tickMS
			if off, _, ok := f.est.Offset(); ok && f.known.Active {
				c := f.ctl.Update(f.pos, f.known, client+off)
				f.lastCorrection = c
				if c.Seek {
					f.pos = c.SeekToMS + 0 // lands where asked, but late:
					f.seekUntil = T + f.seekDelayMS
				}
				f.rate = c.Rate
				if f.known.Rate > 0 {
					f.maxRateDev = math.Max(f.maxRateDev, math.Abs(c.Rate/f.known.Rate-1))
				}
			}
		}
		if math.Mod(T, 100) == 0 {
			st := truth(T)
			d, seen := 0.0, 0.0
			if st.Active {
				d = f.pos - st.Target(T)
				if off, _, ok := f.est.Offset(); ok {
					seen = f.pos - st.Target(client+off)
				}
			}
			res.drift = append(res.drift, d)
			res.seen = append(res.seen, seen)
		}
	}
	res.f = f
	return res
}

func newSimFollower(seed uint64) *simFollower {
	rng := rand.New(rand.NewPCG(seed, 99))
	lat := 20 + rng.Float64()*180 // 20–200 ms
	return &simFollower{
		skewMS:      (rng.Float64()*2 - 1) * 2000, // ±2 s
		upMS:        lat,
		downMS:      lat,
		jitterMS:    8,
		seekDelayMS: 60,
		rng:         rng,
		tickMS:      100,
		pingEveryMS: 1000,
	}
}

// session: play from 0, seek to 60 s at 10 s, pause at 20 s, play at 22 s,
// rate 1.25 at 30 s.
func session() []hostCmd {
	return []hostCmd{
		{0, SyncState{Active: true, Playing: true, PositionMS: 0, Rate: 1, AtServerMS: 0}},
		{10000, SyncState{Active: true, Playing: true, PositionMS: 60000, Rate: 1, AtServerMS: 10000}},
		{20000, SyncState{Active: true, Playing: false, PositionMS: 70000, Rate: 1, AtServerMS: 20000}},
		{22000, SyncState{Active: true, Playing: true, PositionMS: 70000, Rate: 1, AtServerMS: 22000}},
		{30000, SyncState{Active: true, Playing: true, PositionMS: 78000, Rate: 1.25, AtServerMS: 30000}},
	}
}

// TestDriftConvergesForTenFollowers: ten followers with clocks up to ±2 s
// off and 20–200 ms latency each converge to the host's position within a
// few ms after every command, never nudging more than 10%.
func TestDriftConvergesForTenFollowers(t *testing.T) {
	t.Parallel()
	for i := range 10 {
		t.Run(fmt.Sprint("follower", i), func(t *testing.T) {
			t.Parallel()
			f := newSimFollower(uint64(i))
			r := simulate(f, session(), 45000)
			// Both legs have the same base latency and independent jitter:
			// min-RTT filtering finds the offset to within a few ms.
			off, _, _ := f.est.Offset()
			offErr := math.Abs(off + f.skewMS)
			for _, w := range [][2]float64{{6000, 10000}, {13000, 20000}, {20500, 22000}, {25000, 30000}, {35000, 45000}} {
				if m := r.maxSeen(w[0], w[1]); m > 10 {
					t.Errorf("|drift| seen by the follower up to %.1f ms in [%.0f s, %.0f s)", m, w[0]/1000, w[1]/1000)
				}
				if m := r.maxAbs(w[0], w[1]); m > 15 {
					t.Errorf("true |drift| up to %.1f ms in [%.0f s, %.0f s) (offset error %.1f ms)", m, w[0]/1000, w[1]/1000, offErr)
				}
			}
			if offErr > 8 {
				t.Errorf("offset estimate off by %.1f ms", offErr)
			}
			t.Logf("skew %+5.0f ms, latency %3.0f ms ±%.0f: offset error %4.1f ms; true |drift| ≤ %4.1f ms from 3 s after the seek, ≤ %4.1f ms in steady play",
				f.skewMS, f.upMS, f.jitterMS, offErr, r.maxAbs(13000, 20000), r.maxAbs(35000, 45000))
			if f.maxRateDev > 0.1+1e-9 {
				t.Errorf("rate nudged by %.3f", f.maxRateDev)
			}
		})
	}
}

// TestDriftLearnsSeekLag: a player whose seeks take 300 ms to land would
// come out of every seek 300 ms behind and need seconds of 10% nudging.
// The first seek teaches the controller the lag; the next ones are aimed
// ahead by it and land within a few ms.
func TestDriftLearnsSeekLag(t *testing.T) {
	t.Parallel()
	cmds := []hostCmd{
		{0, SyncState{Active: true, Playing: true, PositionMS: 30000, Rate: 1, AtServerMS: 0}},
		{10000, SyncState{Active: true, Playing: true, PositionMS: 60000, Rate: 1, AtServerMS: 10000}},
		{20000, SyncState{Active: true, Playing: true, PositionMS: 120000, Rate: 1.5, AtServerMS: 20000}},
	}
	for i := range 5 {
		t.Run(fmt.Sprint("follower", i), func(t *testing.T) {
			t.Parallel()
			f := newSimFollower(uint64(100 + i))
			f.seekDelayMS = 300
			r := simulate(f, cmds, 30000)
			if lag := f.ctl.SeekLagMS(); math.Abs(lag-300) > 15 {
				t.Errorf("learned a seek lag of %.1f ms, the player takes 300", lag)
			}
			// Each host seek reaches the follower within ~210 ms, the seek
			// happens on the next tick and lands 300 ms later: by 700 ms
			// after the command it must be in step.
			for _, at := range []float64{10000, 20000} {
				if m := r.maxAbs(at+700, at+5000); m > 15 {
					t.Errorf("|drift| up to %.1f ms from 0.7 s after the seek at %.0f s", m, at/1000)
				}
			}
			if f.maxRateDev > 0.1+1e-9 {
				t.Errorf("rate nudged by %.3f", f.maxRateDev)
			}
		})
	}
}

// TestDriftSeekLagIsBounded: a seek that lands far off (did not take) is
// not learned as a lag, and the lag never exceeds SeekMS, so the aim of
// later seeks stays sane.
func TestDriftSeekLagIsBounded(t *testing.T) {
	t.Parallel()
	var ctl DriftController
	st := SyncState{Active: true, Playing: true, PositionMS: 60000, Rate: 1, AtServerMS: 0}
	c := ctl.Update(0, st, 0) // 60 s behind: seek
	if !c.Seek || c.SeekToMS != 60000 {
		t.Fatalf("first correction %+v, want a seek to 60000 (no lag known yet)", c)
	}
	ctl.Update(0, st, 100) // the seek did not take: still 60 s behind
	if lag := ctl.SeekLagMS(); lag != 0 {
		t.Fatalf("learned %.1f ms from a seek that did not take", lag)
	}
	c = ctl.Update(0, st, 200)              // seek again
	ctl.Update(c.SeekToMS+100-900, st, 300) // landed 900 ms behind the target
	if lag := ctl.SeekLagMS(); lag != 900 {
		t.Fatalf("lag %.1f, want 900", lag)
	}
	c = ctl.Update(0, st, 1000)
	if !c.Seek || c.SeekToMS != 60000+1000+900 {
		t.Fatalf("seek aimed at %.0f, want 900 ms ahead of 61000", c.SeekToMS)
	}
	ctl.Update(c.SeekToMS-5000, st, 1100) // landed 5 s off: not a lag
	if lag := ctl.SeekLagMS(); lag != 900 {
		t.Fatalf("lag %.1f after a seek that did not take, want 900 kept", lag)
	}
}

// TestDriftAsymmetricRoute: when the two legs differ, no ping-based
// estimate can see it; the follower converges on its estimate, and the true
// error is half the asymmetry.
func TestDriftAsymmetricRoute(t *testing.T) {
	t.Parallel()
	f := newSimFollower(7)
	f.upMS, f.downMS = 60, 100 // 20 ms of unobservable offset error
	r := simulate(f, session(), 45000)
	if m := r.maxSeen(35000, 45000); m > 10 {
		t.Errorf("seen |drift| %.1f ms", m)
	}
	if m := r.maxAbs(35000, 45000); m > 20+10 {
		t.Errorf("true |drift| %.1f ms, want within half the asymmetry (20 ms) plus a few", m)
	}
}

// TestDriftNoStallUnderThreshold: a follower that starts 30 ms off (below
// EnterMS) or 300 ms off is corrected all the way to ExitMS, not left just
// under a threshold, and once converged plays at exactly the session rate.
func TestDriftNoStallUnderThreshold(t *testing.T) {
	t.Parallel()
	for _, start := range []float64{30, -30, 300, -300, 900} {
		t.Run(fmt.Sprint(start), func(t *testing.T) {
			t.Parallel()
			var ctl DriftController
			st := SyncState{Active: true, Playing: true, PositionMS: 0, Rate: 1, AtServerMS: 0}
			pos, rate := start, 1.0
			var last Correction
			for T := 0.0; T < 30000; T += 100 {
				last = ctl.Update(pos, st, T)
				rate = last.Rate
				pos += rate * 100
			}
			if math.Abs(last.DriftMS) > 5 {
				t.Fatalf("drift stuck at %.2f ms", last.DriftMS)
			}
			if last.Rate != 1 || last.Correcting {
				t.Fatalf("after converging: rate %v, correcting %v", last.Rate, last.Correcting)
			}
		})
	}
}

// TestDriftHysteresis: once converged, small drift below EnterMS leaves the
// rate alone (no flapping); reaching EnterMS starts a correction that runs
// down to ExitMS.
func TestDriftHysteresis(t *testing.T) {
	t.Parallel()
	var ctl DriftController
	st := SyncState{Active: true, Playing: true, Rate: 1}
	ctl.Update(0, st, 0) // converged
	steps := []struct {
		drift      float64
		correcting bool
	}{{0, false}, {20, false}, {39, false}, {40, true}, {20, true}, {6, true}, {5, false}, {-30, false}, {-45, true}, {-4, false}}
	for _, s := range steps {
		c := ctl.Update(1000+s.drift, st, 1000)
		if c.Correcting != s.correcting {
			t.Fatalf("drift %.0f: correcting %v, want %v", s.drift, c.Correcting, s.correcting)
		}
		if !c.Correcting && c.Rate != 1 {
			t.Fatalf("drift %.0f: rate %v while not correcting", s.drift, c.Rate)
		}
		if c.Correcting && (c.Rate < 0.9 || c.Rate > 1.1 || (s.drift > 0) != (c.Rate < 1)) {
			t.Fatalf("drift %.0f: rate %v", s.drift, c.Rate)
		}
	}
}

// TestDriftNoRatchetAfterStalls: buffering stalls (short: nudge, long:
// seek) leave no lasting bias: after each, the follower is back within a
// few ms at exactly the session rate.
func TestDriftNoRatchetAfterStalls(t *testing.T) {
	t.Parallel()
	f := newSimFollower(42)
	f.stalls = [][2]float64{{5000, 5300}, {8000, 8400}, {15000, 17500}, {25000, 25600}, {26000, 26600}}
	cmds := []hostCmd{{0, SyncState{Active: true, Playing: true, Rate: 1}}}
	r := simulate(f, cmds, 40000)
	const bound = 15.0
	for _, w := range [][2]float64{{4000, 5000}, {14000, 15000}, {22000, 25000}, {36000, 40000}} {
		if m := r.maxAbs(w[0], w[1]); m > bound {
			t.Errorf("|drift| up to %.1f ms in [%.0f s, %.0f s) after stalls, bound %.1f", m, w[0]/1000, w[1]/1000, bound)
		}
	}
	if f.lastCorrection.Rate != 1 {
		t.Errorf("final rate %v: a correction ratcheted", f.lastCorrection.Rate)
	}
	// The long stall was repaired by a seek, not by seconds of fast play.
	if m := r.maxAbs(18000, 20000); m > 100 {
		t.Errorf("still %.1f ms off 0.5 s after a 2.5 s stall", m)
	}
	if m := r.maxAbs(20000, 25000); m > bound {
		t.Errorf("|drift| up to %.1f ms 2.5 s after a 2.5 s stall", m)
	}
}

func TestClockEstimatorPrefersLowRTT(t *testing.T) {
	t.Parallel()
	var e ClockEstimator
	// True offset 1000 ms. Congested samples have one slow leg; the quiet
	// ones are symmetric.
	e.Add(0, 1000+10, 20)      // quiet: rtt 20, offset 1000
	e.Add(100, 1100+300, 420)  // slow uplink: rtt 320, offset 1140
	e.Add(500, 1500+12, 522)   // quiet: rtt 22, offset 1001
	e.Add(1000, 2000+10, 1230) // slow downlink: rtt 230, offset 895
	e.Add(2000, 3000+11, 2021) // quiet: rtt 21, offset 1000.5
	off, rtt, ok := e.Offset()
	if !ok || math.Abs(off-1000) > 1 || rtt != 20 {
		t.Fatalf("offset %v rtt %v", off, rtt)
	}
	e.Add(10, 5, 0) // clock stepped back: ignored
	if off2, _, _ := e.Offset(); off2 != off {
		t.Fatal("a backwards sample changed the estimate")
	}
}

func TestApplySyncRules(t *testing.T) {
	t.Parallel()
	pos := func(v int64) *int64 { return &v }
	host := syncActor{UserID: "h", Name: "Host", CanHost: true}
	other := syncActor{UserID: "o", Name: "Other", CanHost: true}
	peerA := syncActor{UserID: "p", Name: "Peer"}
	demoted := syncActor{UserID: "h", Name: "Host"} // the host, no longer allowed to host
	ptrF := func(v float64) *float64 { return &v }
	running := SyncState{Active: true, HostID: "h", Playing: true, PositionMS: 1000, Rate: 2, AtServerMS: 10000}
	none := func(string) (string, bool) { return "", false }
	cases := []struct {
		name    string
		state   SyncState
		present bool
		who     syncActor
		msg     ClientMessage
		typ     string
		check   func(SyncState) bool
	}{
		{"start", SyncState{}, false, host, ClientMessage{Type: MsgSyncStart, PositionMS: pos(500)}, EventSyncStart,
			func(s SyncState) bool {
				return s.Active && s.HostID == "h" && s.PositionMS == 500 && !s.Playing && s.Rate == 1
			}},
		{"peer may not start", SyncState{}, false, peerA, ClientMessage{Type: MsgSyncStart}, "", nil},
		{"pause computes the position", running, true, host, ClientMessage{Type: MsgSyncPause}, EventSyncPause,
			func(s SyncState) bool { return !s.Playing && s.PositionMS == 1000+2*500 && s.AtServerMS == 10500 }},
		{"at_ms within 2 s is used", running, true, host, ClientMessage{Type: MsgSyncPause, AtMS: pos(10250)}, EventSyncPause,
			func(s SyncState) bool { return s.PositionMS == 1500 && s.AtServerMS == 10250 }},
		{"at_ms in the future is ignored", running, true, host, ClientMessage{Type: MsgSyncPause, AtMS: pos(99999)}, EventSyncPause,
			func(s SyncState) bool { return s.AtServerMS == 10500 }},
		{"other may not seek", running, true, other, ClientMessage{Type: MsgSyncSeek, PositionMS: pos(1)}, "", nil},
		{"other may not start over a present host", running, true, other, ClientMessage{Type: MsgSyncStart}, "", nil},
		{"other takes over an absent host", running, false, other, ClientMessage{Type: MsgSyncTake}, EventSyncHost,
			func(s SyncState) bool { return s.HostID == "o" && s.Playing && s.PositionMS == 2000 }},
		{"take needs a session", SyncState{}, false, other, ClientMessage{Type: MsgSyncTake}, "", nil},
		{"hand-off needs an eligible member", running, true, host, ClientMessage{Type: MsgSyncHandoff, UserID: "p"}, "", nil},
		// The host's right is checked on every command: a host who lost
		// it commands nothing.
		{"demoted host may not play", running, true, demoted, ClientMessage{Type: MsgSyncPlay}, "", nil},
		{"demoted host may not pause", running, true, demoted, ClientMessage{Type: MsgSyncPause}, "", nil},
		{"demoted host may not seek", running, true, demoted, ClientMessage{Type: MsgSyncSeek, PositionMS: pos(1)}, "", nil},
		{"demoted host may not change the rate", running, true, demoted, ClientMessage{Type: MsgSyncRate, Rate: ptrF(1)}, "", nil},
		{"demoted host may not hand off", running, true, demoted, ClientMessage{Type: MsgSyncHandoff, UserID: "o"}, "", nil},
		{"demoted host may not end", running, true, demoted, ClientMessage{Type: MsgSyncEnd}, "", nil},
		{"demoted host may not start again", running, true, demoted, ClientMessage{Type: MsgSyncStart}, "", nil},
		{"end", running, true, host, ClientMessage{Type: MsgSyncEnd}, EventSyncEnd,
			func(s SyncState) bool { return !s.Active && !s.Playing && s.PositionMS == 2000 }},
	}
	for _, tc := range cases {
		in := syncInput{State: tc.state, NowMS: 10500, HostPresent: tc.present, Eligible: none}
		typ, st, err := applySync(in, tc.who, tc.msg)
		if tc.typ == "" {
			if err == nil {
				t.Errorf("%s: allowed (%s %+v)", tc.name, typ, st)
			}
			continue
		}
		if err != nil || typ != tc.typ || !tc.check(st) {
			t.Errorf("%s: %s %+v, %v", tc.name, typ, st, err)
		}
	}
}
