// Synchronized playback for followers of a live review session: estimate the
// offset between this browser's clock and the server's from ping/pong
// exchanges, then keep the local player on the host's position by nudging
// its playback rate (small drift) or seeking (large drift).
//
// ClockEstimator and DriftController are a line-by-line port of the Go
// reference implementation (annotations/live/drift.go); docs/live-protocol.md
// explains the algorithm and its thresholds. sync.test.ts mirrors the Go
// tests, including the simulation of followers with skewed clocks, latency,
// jitter and buffering stalls. SyncFollower is the glue that runs the
// controller against a real <video> element on a timer.

/**
 * SyncState is the authoritative session state every sync event carries:
 * the media position at server time atServerMs, and whether it is playing.
 */
export interface SyncState {
  active: boolean;
  host_id?: string;
  host_name?: string;
  playing: boolean;
  /** position_ms is the media position at server time at_server_ms. */
  position_ms: number;
  rate: number;
  at_server_ms: number;
  /** by is the user whose command produced this state. */
  by?: string;
}

/**
 * syncTarget is the media position (ms) the session is at, at server time
 * serverMs: the stored position, advanced by the elapsed time times the rate
 * while playing. Everything a follower does is recomputed from it, so a lost
 * or late message never accumulates error.
 */
export function syncTarget(s: SyncState, serverMs: number): number {
  if (!s.playing) return s.position_ms;
  return Math.max(0, s.position_ms + (serverMs - s.at_server_ms) * s.rate);
}

interface ClockSample {
  rtt: number;
  offset: number;
}

/**
 * ClockEstimator estimates serverClock − clientClock from ping/pong
 * exchanges: for each, the client's send time t0, the server's time in the
 * pong and the arrival time t1. The estimate is the median offset of the
 * three lowest-RTT samples among the last `window` exchanges (the least
 * queued ones; the median ignores one lucky outlier).
 */
export class ClockEstimator {
  /** window is how many recent samples are kept (default 16). */
  window: number;
  #samples: ClockSample[] = [];

  constructor(window = 16) {
    this.window = window;
  }

  /** add records one exchange (all values in milliseconds). */
  add(t0: number, serverMs: number, t1: number): void {
    if (t1 < t0) return; // the client clock stepped back mid-exchange
    const w = this.window > 0 ? this.window : 16;
    this.#samples.push({ rtt: t1 - t0, offset: serverMs - (t0 + t1) / 2 });
    if (this.#samples.length > w) this.#samples = this.#samples.slice(this.#samples.length - w);
  }

  /** samples is how many exchanges are kept. */
  get samples(): number {
    return this.#samples.length;
  }

  /**
   * offset returns the estimated serverClock − clientClock and the RTT of
   * the best sample, or null before the first sample.
   */
  offset(): { offset: number; rtt: number } | null {
    if (this.#samples.length === 0) return null;
    const s = [...this.#samples].sort((a, b) => a.rtt - b.rtt);
    const n = Math.min(3, s.length);
    const best = s.slice(0, n).map((x) => x.offset).sort((a, b) => a - b);
    return { offset: best[Math.floor(n / 2)], rtt: s[0].rtt };
  }

  /** reset forgets every sample (a new connection may take another route). */
  reset(): void {
    this.#samples = [];
  }
}

/** DriftConfig holds the controller's thresholds; absent or ≤ 0 fields take the defaults. */
export interface DriftConfig {
  /** enterMs: start correcting when |drift| reaches it (40 ms). */
  enterMs?: number;
  /** exitMs: once correcting, keep going until |drift| is below it (5 ms). */
  exitMs?: number;
  /**
   * seekMs: beyond it, seek instead of nudging the rate (1000 ms). It also
   * bounds the learned seek lag, and a seek that lands further off than
   * seekMs is taken not to have happened rather than learned from.
   */
  seekMs?: number;
  /** gain: rate nudge per second of drift (2.0; time constant 0.5 s). */
  gain?: number;
  /** maxNudge bounds the relative rate change (0.1). */
  maxNudge?: number;
  /** minNudge is the smallest relative change while correcting (0.005). */
  minNudge?: number;
}

type FullDriftConfig = Required<DriftConfig>;

function withDefaults(c: DriftConfig): FullDriftConfig {
  const def = (v: number | undefined, d: number) => (v !== undefined && v > 0 ? v : d);
  return {
    enterMs: def(c.enterMs, 40),
    exitMs: def(c.exitMs, 5),
    seekMs: def(c.seekMs, 1000),
    gain: def(c.gain, 2),
    maxNudge: def(c.maxNudge, 0.1),
    minNudge: def(c.minNudge, 0.005),
  };
}

/** Correction is what the follower's player should do now. */
export interface Correction {
  /** rate to play at (the session rate, possibly nudged). */
  rate: number;
  /** seek, when true, means jump to seekToMs before anything else. */
  seek: boolean;
  seekToMs: number;
  /** driftMs is local − target: positive when the follower is ahead. */
  driftMs: number;
  /** correcting reports whether the controller is closing a drift. */
  correcting: boolean;
}

/**
 * DriftController turns the follower's position and the authoritative state
 * into a Correction on every player tick (100–250 ms). The target is
 * recomputed from the state each tick, so a stall, a lost message or a late
 * tick never ratchets into a bias.
 *
 * Its memory is whether it is correcting (the hysteresis) and how long the
 * player's seeks take to land (the seek lag). A seek while playing lands
 * late (the player decodes, maybe fetches, while the target moves on), so a
 * seek aimed at the target lands behind it by the lag and leaves that much
 * to nudge away at 10% a second. The controller therefore aims each seek
 * ahead by the lag it measured on the previous seeks: on the first tick
 * after a seek it sees where the player landed against where it aimed. The
 * lag is re-measured at every seek and bounded by seekMs.
 */
export class DriftController {
  config: DriftConfig;
  #correcting = false;
  #primed = false;

  #seekLagMs = 0; // how long seeks take to land; 0 until measured
  #lagKnown = false;
  #seekPending = false; // the last update asked for a seek while playing
  #seekAimMs = 0; // the lag that seek was aimed ahead by

  constructor(config: DriftConfig = {}) {
    this.config = config;
  }

  /**
   * reset makes the next update converge fully, as after joining or a new
   * state: a small initial error is closed too, not left below enterMs. The
   * learned seek lag is kept; a seek in flight is not measured, since the
   * state it aimed at was replaced.
   */
  reset(): void {
    this.#primed = false;
    this.#seekPending = false;
  }

  /** seekLagMs is the current estimate of how long a seek takes to land (0 before the first measured seek while playing). */
  get seekLagMs(): number {
    return this.#seekLagMs;
  }

  /** update computes the correction at localMs when the server clock reads serverNowMs. */
  update(localMs: number, st: SyncState, serverNowMs: number): Correction {
    const c = withDefaults(this.config);
    if (!this.#primed) {
      this.#primed = true;
      this.#correcting = true;
    }
    const rate = st.rate > 0 ? st.rate : 1;
    const target = syncTarget(st, serverNowMs);
    const drift = localMs - target;
    const abs = Math.abs(drift);
    const out: Correction = { rate, seek: false, seekToMs: 0, driftMs: drift, correcting: false };
    const pending = this.#seekPending;
    this.#seekPending = false;
    if (!st.playing) {
      // Paused: nothing moves, so an exact seek is invisible and final.
      if (abs > c.exitMs / 5) {
        out.seek = true;
        out.seekToMs = target;
      }
      this.#correcting = false;
      return out;
    }
    if (pending && abs <= c.seekMs) {
      // First tick after our seek: it was aimed seekAimMs ahead and landed
      // drift off the target, so it took this long to land. (A seek that
      // landed further off than seekMs did not take at all: it teaches
      // nothing.)
      let lag = Math.min(c.seekMs, Math.max(0, this.#seekAimMs - drift / rate));
      if (this.#lagKnown) lag = (this.#seekLagMs + lag) / 2; // smooth one odd seek
      this.#seekLagMs = lag;
      this.#lagKnown = true;
    }
    if (abs > c.seekMs) {
      // Aim where the target will be when the seek lands.
      this.#seekAimMs = this.#seekLagMs;
      this.#seekPending = true;
      out.seek = true;
      out.seekToMs = target + this.#seekAimMs * rate;
      // The player still lands a little off (the lag varies): keep
      // correcting that residue down to exitMs.
      this.#correcting = true;
      out.correcting = true;
      return out;
    }
    if (abs >= c.enterMs) this.#correcting = true;
    else if (abs <= c.exitMs) this.#correcting = false;
    out.correcting = this.#correcting;
    if (!this.#correcting) return out;
    const nudge = Math.min(c.maxNudge, Math.max(c.minNudge, (c.gain * abs) / 1000));
    out.rate = drift > 0 ? rate * (1 - nudge) : rate * (1 + nudge);
    return out;
  }
}

// ---------------------------------------------------------------------------
// SyncFollower: the controller driving a media element.

/** MediaLike is the part of HTMLMediaElement a follower drives. */
export interface MediaLike {
  currentTime: number;
  playbackRate: number;
  readonly paused: boolean;
  readonly seeking: boolean;
  readonly readyState: number;
  play(): Promise<void> | void;
  pause(): void;
}

/** FollowerOptions wires a follower to its clock, media and timer. */
export interface FollowerOptions {
  media: () => MediaLike | null;
  /** serverNow is the client clock plus the estimated offset, or null before any estimate. */
  serverNow: () => number | null;
  /** tickMs is the controller period (default 100 ms, see DriftConfig.gain). */
  tickMs?: number;
  config?: DriftConfig;
  /**
   * onPlayBlocked runs when the browser refuses to start playback (autoplay
   * policy: nobody clicked the page yet); the page asks for one click.
   */
  onPlayBlocked?: () => void;
  /** onCorrection reports every tick's correction (for the drift read-out). */
  onCorrection?: (c: Correction) => void;
  /** clock is a monotonic ms clock (default performance.now). */
  clock?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
}

/** ACTION_ECHO_MS is how long after its own action the element's events count as the follower's. */
export const ACTION_ECHO_MS = 1500;

/** HAVE_FUTURE_DATA: the element can play without stalling right away. */
const HAVE_FUTURE_DATA = 3;

/**
 * SyncFollower keeps one media element on a session's state while it
 * follows: each tick it skips while the element is seeking or starved (the
 * browser's waiting/seeking), otherwise applies the controller's rate, seek
 * and play/pause. Detaching (a follower looking around on their own) stops
 * corrections and restores the session rate.
 */
export class SyncFollower {
  #opts: FollowerOptions;
  #ctl: DriftController;
  #state: SyncState | null = null;
  #timer: unknown = null;
  #following = false;
  /** last is the latest correction (null before the first tick). */
  last: Correction | null = null;
  #actedAt = -Infinity;
  #seekAt = -Infinity;
  #seekTo = 0;

  constructor(opts: FollowerOptions) {
    this.#opts = opts;
    this.#ctl = new DriftController(opts.config ?? {});
  }

  get following(): boolean {
    return this.#following;
  }

  get state(): SyncState | null {
    return this.#state;
  }

  /** setState takes a new authoritative state and converges fully to it. */
  setState(st: SyncState | null): void {
    this.#state = st;
    this.#ctl.reset();
    if (this.#following) this.tick();
  }

  /** follow starts (or stops) applying corrections. */
  follow(on: boolean): void {
    if (on === this.#following) return;
    this.#following = on;
    if (on) {
      this.#ctl.reset();
      const every = this.#opts.setInterval ?? ((fn, ms) => setInterval(fn, ms));
      this.#timer = every(() => this.tick(), this.#opts.tickMs ?? 100);
      this.tick();
    } else {
      this.#stopTimer();
      const m = this.#opts.media();
      if (m && this.#state) m.playbackRate = this.#state.rate > 0 ? this.#state.rate : 1;
    }
  }

  #stopTimer(): void {
    if (this.#timer !== null) {
      const clear = this.#opts.clearInterval ?? ((h) => clearInterval(h as ReturnType<typeof setInterval>));
      clear(this.#timer);
      this.#timer = null;
    }
  }

  /**
   * actedRecently says whether the follower itself played, paused or seeked
   * the element in the last ACTION_ECHO_MS, so the element's play/pause/
   * seeked events that follow are not taken for a person's own action.
   */
  actedRecently(): boolean {
    return this.#clock() - this.#actedAt < ACTION_ECHO_MS;
  }

  #clock(): number {
    return (this.#opts.clock ?? (() => performance.now()))();
  }

  #acted(): void {
    this.#actedAt = this.#clock();
  }

  /**
   * ownSeek says whether a seeked event at positionMs finishes the
   * follower's own latest seek (an HLS seek may take seconds to land, so it
   * is recognised by where it lands, within 10 s of asking).
   */
  ownSeek(positionMs: number): boolean {
    return this.#clock() - this.#seekAt < 10_000 && Math.abs(positionMs - this.#seekTo) < 500;
  }

  /** tick runs the controller once; the timer calls it every tickMs. */
  tick(): void {
    const m = this.#opts.media();
    const st = this.#state;
    const now = this.#opts.serverNow();
    if (!this.#following || !m || !st || !st.active || now === null) return;
    if (st.playing && m.paused) {
      this.#acted();
      void Promise.resolve(m.play()).catch((err: { name?: string }) => {
        if (err?.name === 'NotAllowedError') this.#opts.onPlayBlocked?.();
      });
    }
    if (!st.playing && !m.paused) {
      this.#acted();
      m.pause();
    }
    // Skip ticks while the element seeks or waits for data: it cannot act on
    // a rate then, and its position is not moving.
    if (m.seeking || (st.playing && m.readyState < HAVE_FUTURE_DATA)) return;
    const c = this.#ctl.update(m.currentTime * 1000, st, now);
    this.last = c;
    if (c.seek) {
      this.#acted();
      this.#seekAt = this.#clock();
      this.#seekTo = c.seekToMs;
      m.currentTime = c.seekToMs / 1000;
    }
    if (Math.abs(m.playbackRate - c.rate) > 1e-9) m.playbackRate = c.rate;
    this.#opts.onCorrection?.(c);
  }

  /** destroy stops the timer. */
  destroy(): void {
    this.#stopTimer();
    this.#following = false;
  }
}
