package live

import (
	"math"
	"sort"
)

// This file is the reference implementation of what a follower does to stay
// in step with the host: estimate the offset between its clock and the
// server's, then correct its playback from the authoritative SyncState. The
// web app ports it line by line; docs/live-protocol.md explains it.

// ClockEstimator estimates serverClock − clientClock from ping/pong
// exchanges. For each exchange the client records when it sent the ping
// (t0), the server's time in the pong (s) and when the pong arrived (t1).
// Assuming the server stamped s half-way, offset = s − (t0+t1)/2, with an
// error of at most RTT/2 and, in practice, half the asymmetry of the two
// legs. Samples with the smallest RTT had the least queueing on either leg,
// so the estimate is the median offset of the three lowest-RTT samples
// among the last Window exchanges: robust to one lucky outlier, and it
// follows a changed route or a stepped clock once old samples leave the
// window.
type ClockEstimator struct {
	// Window is how many recent samples are kept (default 16).
	Window  int
	samples []clockSample
}

type clockSample struct{ rtt, offset float64 }

// Add records one ping/pong exchange (all values in milliseconds).
func (e *ClockEstimator) Add(t0, serverMS, t1 float64) {
	if t1 < t0 {
		return // the client clock stepped back mid-exchange; the sample is meaningless
	}
	w := e.Window
	if w <= 0 {
		w = 16
	}
	e.samples = append(e.samples, clockSample{rtt: t1 - t0, offset: serverMS - (t0+t1)/2})
	if len(e.samples) > w {
		e.samples = e.samples[len(e.samples)-w:]
	}
}

// Offset returns the estimated serverClock − clientClock and the RTT of the
// best sample; ok is false before the first sample.
func (e *ClockEstimator) Offset() (offset, rtt float64, ok bool) {
	if len(e.samples) == 0 {
		return 0, 0, false
	}
	s := append([]clockSample(nil), e.samples...)
	sort.Slice(s, func(i, j int) bool { return s[i].rtt < s[j].rtt })
	n := min(3, len(s))
	best := make([]float64, n)
	for i := range best {
		best[i] = s[i].offset
	}
	sort.Float64s(best)
	return best[n/2], s[0].rtt, true
}

// DriftConfig holds the thresholds of the drift controller; zero fields take
// the defaults shown.
type DriftConfig struct {
	// EnterMS: start correcting when |drift| reaches it (40 ms: below what
	// viewers notice between screens in one room).
	EnterMS float64
	// ExitMS: once correcting, keep going until |drift| is below it (5 ms).
	// The gap between EnterMS and ExitMS is the hysteresis: no flapping at
	// a threshold, and no stalling just under it while correcting.
	ExitMS float64
	// SeekMS: beyond it, seek instead of nudging the rate (1000 ms: at the
	// maximum nudge, catching up 1 s would take 10 s). It also bounds the
	// learned seek lag, and a seek that lands further off than SeekMS is
	// taken not to have happened rather than learned from.
	SeekMS float64
	// Gain: rate nudge per second of drift (2.0: 20 ms ahead plays 4%
	// slower, 50 ms or more ahead 10%). Below the MaxNudge clamp the drift
	// decays with a time constant of 1/Gain seconds (0.5 s); the product
	// Gain × tick period must stay well below 1 (0.2 at 100 ms ticks) or
	// the correction overshoots.
	Gain float64
	// MaxNudge bounds the relative rate change (0.1: ±10% keeps speech
	// intelligible and pitch-corrected playback clean).
	MaxNudge float64
	// MinNudge is the smallest relative change while correcting (0.005), so
	// a small remaining drift still closes in bounded time instead of
	// approaching ExitMS asymptotically.
	MinNudge float64
}

func (c DriftConfig) withDefaults() DriftConfig {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.EnterMS, 40)
	def(&c.ExitMS, 5)
	def(&c.SeekMS, 1000)
	def(&c.Gain, 2)
	def(&c.MaxNudge, 0.1)
	def(&c.MinNudge, 0.005)
	return c
}

// Correction is what the follower's player should do now.
type Correction struct {
	// Rate to play at (the session rate, possibly nudged).
	Rate float64
	// Seek, when true, means jump to SeekToMS before anything else.
	Seek     bool
	SeekToMS float64
	// DriftMS is local − target: positive when the follower is ahead.
	DriftMS float64
	// Correcting reports whether the controller is closing a drift.
	Correcting bool
}

// DriftController turns the follower's position and the authoritative state
// into a Correction, on every player tick (every 100–250 ms). The target is
// recomputed from the state on every tick, so a buffering stall, a lost
// message or a late tick never accumulates into a ratchet: after a stall the
// follower is simply behind the target and catches up (nudge or seek).
//
// Its memory is whether it is correcting (the hysteresis) and how long the
// player's seeks take to land (the seek lag). A seek while playing lands
// late: the player decodes (and may fetch) before it plays on, while the
// target moves on, so a seek aimed at the target lands behind it by the lag
// and leaves that much to nudge away (at most 10% a second: 300 ms takes
// over 3 s). So the controller aims a seek ahead by the lag it measured on
// the previous seeks: on the first tick after a seek it sees where the
// player landed against where it aimed. The lag is re-measured at every
// seek and bounded by SeekMS, so a wrong estimate only costs one residue
// that the nudge closes as before.
type DriftController struct {
	Config     DriftConfig
	correcting bool
	primed     bool

	seekLagMS   float64 // how long seeks take to land; 0 until measured
	lagKnown    bool
	seekPending bool    // the last Update asked for a seek while playing
	seekAimMS   float64 // the lag that seek was aimed ahead by
}

// Reset makes the next Update converge fully, as after joining or a new
// state: a fresh follower's small initial error is closed too, not left
// below EnterMS. The learned seek lag is kept; a seek in flight is not
// measured, since the state it aimed at was replaced.
func (d *DriftController) Reset() { d.primed, d.seekPending = false, false }

// SeekLagMS is the current estimate of how long a seek takes to land
// (0 before the first seek while playing has been measured).
func (d *DriftController) SeekLagMS() float64 { return d.seekLagMS }

// Update computes the correction for a follower at localMS when the server
// clock reads serverNowMS (client clock + estimated offset).
func (d *DriftController) Update(localMS float64, st SyncState, serverNowMS float64) Correction {
	c := d.Config.withDefaults()
	if !d.primed {
		d.primed, d.correcting = true, true
	}
	rate := st.Rate
	if rate <= 0 {
		rate = 1
	}
	target := st.Target(serverNowMS)
	drift := localMS - target
	abs := math.Abs(drift)
	out := Correction{Rate: rate, DriftMS: drift}
	pending := d.seekPending
	d.seekPending = false
	if !st.Playing {
		// Paused: nothing moves, so an exact seek is invisible and final.
		if abs > c.ExitMS/5 {
			out.Seek, out.SeekToMS = true, target
		}
		d.correcting = false
		return out
	}
	if pending && abs <= c.SeekMS {
		// First tick after our seek: it was aimed seekAimMS ahead and
		// landed drift off the target, so it took this long to land. (A
		// seek that landed further off than SeekMS did not take at all:
		// it teaches nothing.)
		lag := math.Min(c.SeekMS, math.Max(0, d.seekAimMS-drift/rate))
		if d.lagKnown {
			lag = (d.seekLagMS + lag) / 2 // smooth one odd seek
		}
		d.seekLagMS, d.lagKnown = lag, true
	}
	if abs > c.SeekMS {
		// Aim where the target will be when the seek lands.
		d.seekAimMS = d.seekLagMS
		d.seekPending = true
		out.Seek, out.SeekToMS = true, target+d.seekAimMS*rate
		// The player still lands a little off (the lag varies); keep
		// correcting that residue down to ExitMS.
		d.correcting = true
		out.Correcting = true
		return out
	}
	switch {
	case abs >= c.EnterMS:
		d.correcting = true
	case abs <= c.ExitMS:
		d.correcting = false
	}
	out.Correcting = d.correcting
	if !d.correcting {
		return out
	}
	nudge := math.Min(c.MaxNudge, math.Max(c.MinNudge, c.Gain*abs/1000))
	if drift > 0 {
		out.Rate = rate * (1 - nudge) // ahead: slow down
	} else {
		out.Rate = rate * (1 + nudge)
	}
	return out
}
