// Mirrors annotations/live/drift_test.go: the same simulation of followers
// (skewed clocks, latency with jitter, late seeks, buffering stalls) run on
// simulated server time, so no test reads a real clock.

import { describe, expect, it } from 'vitest';
import {
  ClockEstimator,
  DriftController,
  SyncFollower,
  syncTarget,
  type Correction,
  type MediaLike,
  type SyncState,
} from './sync';

// mulberry32: a small seeded PRNG (the Go test uses PCG; any fixed-seed
// generator exercises the same ranges).
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const st = (s: Partial<SyncState>): SyncState => ({ active: true, playing: false, position_ms: 0, rate: 1, at_server_ms: 0, ...s });

interface SimFollower {
  skewMs: number;
  upMs: number;
  downMs: number;
  jitterMs: number;
  seekDelayMs: number;
  stalls: Array<[number, number]>;
  rand: () => number;
  tickMs: number;
  pingEveryMs: number;
  pos: number;
  rate: number;
  seekUntil: number;
  est: ClockEstimator;
  ctl: DriftController;
  known: SyncState;
  maxRateDev: number;
  lastCorrection: Correction | null;
}

interface HostCmd {
  atMs: number;
  st: SyncState;
}

interface SimResult {
  drift: number[];
  seen: number[];
  f: SimFollower;
}

function maxAbsOf(xs: number[], from: number, to: number): number {
  let m = 0;
  for (let i = Math.floor(from / 100); i < Math.floor(to / 100) && i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]));
  return m;
}
const maxAbs = (r: SimResult, from: number, to: number) => maxAbsOf(r.drift, from, to);
const maxSeen = (r: SimResult, from: number, to: number) => maxAbsOf(r.seen, from, to);

function simulate(f: SimFollower, cmds: HostCmd[], durMs: number): SimResult {
  const dt = 5;
  let msgs = cmds.map((c) => ({ arrive: c.atMs + f.downMs + f.rand() * f.jitterMs, st: c.st }));
  let pings: Array<{ sentClient: number; serverAt: number; arrive: number }> = [];
  f.rate = 1;
  let nextTick = 0;
  let nextPing = 0;
  const res: SimResult = { drift: [], seen: [], f };
  const truth = (T: number): SyncState => {
    let s = st({ active: false });
    for (const c of cmds) if (c.atMs <= T) s = c.st;
    return s;
  };
  for (let step = 0; step * dt < durMs; step++) {
    const T = step * dt;
    const client = T + f.skewMs;
    const arrived = msgs.filter((m) => m.arrive <= T);
    msgs = msgs.filter((m) => m.arrive > T);
    for (const m of arrived) {
      f.known = m.st;
      f.ctl.reset(); // a new state: converge fully to it
    }
    if (T >= nextPing) {
      const up = f.upMs + f.rand() * f.jitterMs;
      const down = f.downMs + f.rand() * f.jitterMs;
      pings.push({ sentClient: client, serverAt: T + up, arrive: T + up + down });
      // Ping 8 times fast on join, then once a second (as live.ts does).
      nextPing = f.est.samples + pings.length < 8 ? T + 100 : T + f.pingEveryMs;
    }
    const back = pings.filter((p) => p.arrive <= T);
    pings = pings.filter((p) => p.arrive > T);
    for (const p of back) f.est.add(p.sentClient, p.serverAt, p.arrive + f.skewMs);
    const stalled = f.stalls.some(([a, b]) => T >= a && T < b);
    if (f.known.active && f.known.playing && !stalled && T >= f.seekUntil) f.pos += f.rate * dt;
    if (T >= nextTick && !stalled && T >= f.seekUntil) {
      nextTick = T + f.tickMs;
      const off = f.est.offset();
      if (off && f.known.active) {
        const c = f.ctl.update(f.pos, f.known, client + off.offset);
        f.lastCorrection = c;
        if (c.seek) {
          f.pos = c.seekToMs; // lands where asked, but late:
          f.seekUntil = T + f.seekDelayMs;
        }
        f.rate = c.rate;
        if (f.known.rate > 0) f.maxRateDev = Math.max(f.maxRateDev, Math.abs(c.rate / f.known.rate - 1));
      }
    }
    if (T % 100 === 0) {
      const s = truth(T);
      let d = 0;
      let seen = 0;
      if (s.active) {
        d = f.pos - syncTarget(s, T);
        const off = f.est.offset();
        if (off) seen = f.pos - syncTarget(s, client + off.offset);
      }
      res.drift.push(d);
      res.seen.push(seen);
    }
  }
  return res;
}

function newSimFollower(seed: number): SimFollower {
  const rand = rng(seed + 1);
  const lat = 20 + rand() * 180; // 20–200 ms
  return {
    skewMs: (rand() * 2 - 1) * 2000, // ±2 s
    upMs: lat,
    downMs: lat,
    jitterMs: 8,
    seekDelayMs: 60,
    stalls: [],
    rand,
    tickMs: 100,
    pingEveryMs: 1000,
    pos: 0,
    rate: 1,
    seekUntil: 0,
    est: new ClockEstimator(),
    ctl: new DriftController(),
    known: st({ active: false }),
    maxRateDev: 0,
    lastCorrection: null,
  };
}

// Play from 0, seek to 60 s at 10 s, pause at 20 s, play at 22 s, rate 1.25 at 30 s.
function session(): HostCmd[] {
  return [
    { atMs: 0, st: st({ playing: true, position_ms: 0, at_server_ms: 0 }) },
    { atMs: 10000, st: st({ playing: true, position_ms: 60000, at_server_ms: 10000 }) },
    { atMs: 20000, st: st({ playing: false, position_ms: 70000, at_server_ms: 20000 }) },
    { atMs: 22000, st: st({ playing: true, position_ms: 70000, at_server_ms: 22000 }) },
    { atMs: 30000, st: st({ playing: true, position_ms: 78000, rate: 1.25, at_server_ms: 30000 }) },
  ];
}

describe('drift controller (port of drift.go)', () => {
  it.each(Array.from({ length: 10 }, (_, i) => i))('converges for follower %i of ten', (i) => {
    const f = newSimFollower(i);
    const r = simulate(f, session(), 45000);
    const off = f.est.offset();
    expect(off).not.toBeNull();
    const offErr = Math.abs(off!.offset + f.skewMs);
    for (const [from, to] of [
      [6000, 10000],
      [13000, 20000],
      [20500, 22000],
      [25000, 30000],
      [35000, 45000],
    ]) {
      expect(maxSeen(r, from, to), `seen drift in [${from}, ${to})`).toBeLessThanOrEqual(10);
      expect(maxAbs(r, from, to), `true drift in [${from}, ${to}), offset error ${offErr}`).toBeLessThanOrEqual(15);
    }
    expect(offErr).toBeLessThanOrEqual(8);
    expect(f.maxRateDev).toBeLessThanOrEqual(0.1 + 1e-9);
  });

  it('converges on its estimate when the route is asymmetric (error: half the asymmetry)', () => {
    const f = newSimFollower(7);
    f.upMs = 60;
    f.downMs = 100; // 20 ms of unobservable offset error
    const r = simulate(f, session(), 45000);
    expect(maxSeen(r, 35000, 45000)).toBeLessThanOrEqual(10);
    expect(maxAbs(r, 35000, 45000)).toBeLessThanOrEqual(30);
  });

  it.each([30, -30, 300, -300, 900])('does not stall under a threshold (start %i ms off)', (start) => {
    const ctl = new DriftController();
    const s = st({ playing: true });
    let pos = start;
    let last: Correction | null = null;
    for (let T = 0; T < 30000; T += 100) {
      last = ctl.update(pos, s, T);
      pos += last.rate * 100;
    }
    expect(Math.abs(last!.driftMs)).toBeLessThanOrEqual(5);
    expect(last!.rate).toBe(1);
    expect(last!.correcting).toBe(false);
  });

  it('has hysteresis: no flapping below enter, corrects down to exit', () => {
    const ctl = new DriftController();
    const s = st({ playing: true });
    ctl.update(0, s, 0); // converged
    const steps: Array<[number, boolean]> = [
      [0, false], [20, false], [39, false], [40, true], [20, true], [6, true], [5, false], [-30, false], [-45, true], [-4, false],
    ];
    for (const [drift, correcting] of steps) {
      const c = ctl.update(1000 + drift, s, 1000);
      expect(c.correcting, `drift ${drift}`).toBe(correcting);
      if (!c.correcting) expect(c.rate).toBe(1);
      else {
        expect(c.rate).toBeGreaterThanOrEqual(0.9);
        expect(c.rate).toBeLessThanOrEqual(1.1);
        expect(drift > 0).toBe(c.rate < 1);
      }
    }
  });

  it('leaves no ratchet after buffering stalls', () => {
    const f = newSimFollower(42);
    f.stalls = [[5000, 5300], [8000, 8400], [15000, 17500], [25000, 25600], [26000, 26600]];
    const r = simulate(f, [{ atMs: 0, st: st({ playing: true }) }], 40000);
    const bound = 15;
    for (const [from, to] of [
      [4000, 5000],
      [14000, 15000],
      [22000, 25000],
      [36000, 40000],
    ]) {
      expect(maxAbs(r, from, to), `after stalls in [${from}, ${to})`).toBeLessThanOrEqual(bound);
    }
    expect(f.lastCorrection?.rate).toBe(1);
    // The long stall was repaired by a seek, not by seconds of fast play.
    expect(maxAbs(r, 18000, 20000)).toBeLessThanOrEqual(100);
    expect(maxAbs(r, 20000, 25000)).toBeLessThanOrEqual(bound);
  });

  // A player whose seeks take 300 ms to land would come out of every seek
  // 300 ms behind and need seconds of 10% nudging. The first seek teaches
  // the controller the lag; the next ones are aimed ahead by it.
  it.each([0, 1, 2, 3, 4])('learns the seek lag (follower %i)', (i) => {
    const cmds: HostCmd[] = [
      { atMs: 0, st: st({ playing: true, position_ms: 30000, at_server_ms: 0 }) },
      { atMs: 10000, st: st({ playing: true, position_ms: 60000, at_server_ms: 10000 }) },
      { atMs: 20000, st: st({ playing: true, position_ms: 120000, rate: 1.5, at_server_ms: 20000 }) },
    ];
    const f = newSimFollower(100 + i);
    f.seekDelayMs = 300;
    const r = simulate(f, cmds, 30000);
    expect(Math.abs(f.ctl.seekLagMs - 300), `learned lag ${f.ctl.seekLagMs}`).toBeLessThanOrEqual(15);
    // Each host seek reaches the follower within ~210 ms, the seek happens
    // on the next tick and lands 300 ms later: by 700 ms after the command
    // it must be in step.
    for (const at of [10000, 20000]) {
      expect(maxAbs(r, at + 700, at + 5000), `drift from 0.7 s after the seek at ${at / 1000} s`).toBeLessThanOrEqual(15);
    }
    expect(f.maxRateDev).toBeLessThanOrEqual(0.1 + 1e-9);
  });

  // A seek that lands far off (did not take) is not learned as a lag, and
  // the lag never exceeds seekMs, so the aim of later seeks stays sane.
  it('bounds the seek lag and ignores a seek that did not take', () => {
    const ctl = new DriftController();
    const s = st({ playing: true, position_ms: 60000, at_server_ms: 0 });
    let c = ctl.update(0, s, 0); // 60 s behind: seek
    expect(c.seek).toBe(true);
    expect(c.seekToMs).toBe(60000); // no lag known yet
    ctl.update(0, s, 100); // the seek did not take: still 60 s behind
    expect(ctl.seekLagMs).toBe(0);
    c = ctl.update(0, s, 200); // seek again
    ctl.update(c.seekToMs + 100 - 900, s, 300); // landed 900 ms behind the target
    expect(ctl.seekLagMs).toBe(900);
    c = ctl.update(0, s, 1000);
    expect(c.seek).toBe(true);
    expect(c.seekToMs).toBe(60000 + 1000 + 900); // aimed 900 ms ahead of 61000
    ctl.update(c.seekToMs - 5000, s, 1100); // landed 5 s off: not a lag
    expect(ctl.seekLagMs).toBe(900);
  });

  it('keeps the learned lag across reset but drops a seek in flight', () => {
    const ctl = new DriftController();
    const s = st({ playing: true, position_ms: 60000, at_server_ms: 0 });
    const c = ctl.update(0, s, 0);
    ctl.update(c.seekToMs + 100 - 250, s, 100); // took 250 ms
    expect(ctl.seekLagMs).toBe(250);
    ctl.update(0, s, 1000); // seek aimed 250 ms ahead
    ctl.reset(); // a new state: that seek is not measured
    ctl.update(61100 + 250 - 700, s, 1100);
    expect(ctl.seekLagMs).toBe(250);
  });

  it('seeks exactly while paused', () => {
    const ctl = new DriftController();
    const c = ctl.update(1234, st({ playing: false, position_ms: 5000 }), 99999);
    expect(c.seek).toBe(true);
    expect(c.seekToMs).toBe(5000);
    expect(ctl.update(5000, st({ playing: false, position_ms: 5000 }), 99999).seek).toBe(false);
  });
});

describe('clock estimator', () => {
  it('prefers low-RTT samples and ignores a clock stepping back', () => {
    const e = new ClockEstimator();
    // True offset 1000 ms; congested samples have one slow leg.
    e.add(0, 1000 + 10, 20);
    e.add(100, 1100 + 300, 420);
    e.add(500, 1500 + 12, 522);
    e.add(1000, 2000 + 10, 1230);
    e.add(2000, 3000 + 11, 2021);
    const o = e.offset();
    expect(o).not.toBeNull();
    expect(Math.abs(o!.offset - 1000)).toBeLessThanOrEqual(1);
    expect(o!.rtt).toBe(20);
    e.add(10, 5, 0);
    expect(e.offset()!.offset).toBe(o!.offset);
  });

  it('keeps only the last window of samples', () => {
    const e = new ClockEstimator(4);
    for (let i = 0; i < 10; i++) e.add(i * 100, i * 100 + 500 + 5, i * 100 + 10);
    expect(e.samples).toBe(4);
    expect(e.offset()!.offset).toBe(500);
  });
});

class FakeMedia implements MediaLike {
  currentTime = 0;
  playbackRate = 1;
  paused = true;
  seeking = false;
  readyState = 4;
  play() {
    this.paused = false;
  }
  pause() {
    this.paused = true;
  }
}

describe('SyncFollower', () => {
  it('plays, seeks and nudges a media element toward the session', () => {
    const media = new FakeMedia();
    let now = 10_000;
    let tick: (() => void) | null = null;
    const f = new SyncFollower({
      media: () => media,
      serverNow: () => now,
      setInterval: (fn) => ((tick = fn), 1),
      clearInterval: () => (tick = null),
    });
    f.setState(st({ playing: true, position_ms: 60_000, at_server_ms: 10_000 }));
    f.follow(true);
    expect(media.paused).toBe(false);
    expect(media.currentTime).toBe(60); // 60 s off: a seek
    // Simulate 5 s of ticks with the element running 30 ms behind after the seek.
    media.currentTime -= 0.03;
    for (let i = 0; i < 50; i++) {
      now += 100;
      media.currentTime += (media.playbackRate * 100) / 1000;
      tick!();
    }
    expect(Math.abs(f.last!.driftMs)).toBeLessThanOrEqual(5);
    expect(media.playbackRate).toBe(1);
    // A pause lands exactly, at once.
    f.setState(st({ playing: false, position_ms: 65_432, at_server_ms: now }));
    expect(media.paused).toBe(true);
    expect(media.currentTime).toBeCloseTo(65.432, 6);
    f.follow(false);
    expect(tick).toBeNull();
  });

  it('skips ticks while the element is seeking or starved', () => {
    const media = new FakeMedia();
    media.seeking = true;
    const f = new SyncFollower({ media: () => media, serverNow: () => 0, setInterval: () => 1, clearInterval: () => {} });
    f.setState(st({ playing: true, position_ms: 50_000 }));
    f.follow(true);
    expect(f.last).toBeNull();
    expect(media.currentTime).toBe(0);
  });
});

describe('SyncFollower own actions', () => {
  it('recognises its own seeks and play/pause, not a person’s', () => {
    const media = new FakeMedia();
    let clock = 0;
    const f = new SyncFollower({ media: () => media, serverNow: () => 0, clock: () => clock, setInterval: () => 1, clearInterval: () => {} });
    f.setState(st({ playing: false, position_ms: 30_000 }));
    f.follow(true);
    expect(media.currentTime).toBe(30);
    expect(f.actedRecently()).toBe(true);
    clock = 4000; // an HLS seek may land seconds later
    expect(f.ownSeek(30_000)).toBe(true);
    expect(f.actedRecently()).toBe(false);
    expect(f.ownSeek(12_000)).toBe(false); // somewhere else: the person seeked
    clock = 20_000;
    expect(f.ownSeek(30_000)).toBe(false);
  });
});

describe('SyncFollower autoplay', () => {
  it('reports a play refused by the autoplay policy', async () => {
    const media = new FakeMedia();
    media.play = () => Promise.reject(Object.assign(new Error('no'), { name: 'NotAllowedError' })) as unknown as void;
    let blocked = 0;
    const f = new SyncFollower({ media: () => media, serverNow: () => 0, onPlayBlocked: () => blocked++, setInterval: () => 1, clearInterval: () => {} });
    f.setState(st({ playing: true }));
    f.follow(true);
    await Promise.resolve();
    await Promise.resolve();
    expect(blocked).toBe(1);
  });
});
