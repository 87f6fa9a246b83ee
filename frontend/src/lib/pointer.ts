// The host's pointer in a synchronized session: the host points at
// something in the picture and every follower sees a dot there. Positions
// are normalized to the video frame (0..1, the live protocol's `pointer`
// message), so they land on the same spot whatever the size of each screen.
//
// Sending is throttled: the room allows 20 messages a second per connection
// (docs/live-protocol.md), which playheads and pings share, so the pointer
// goes out at most every POINTER_EVERY_MS, always ending on the latest
// position. The protocol has no "pointer gone" message: a follower hides the
// dot when none has come for POINTER_HIDE_MS.

import type { Pointer } from './live';
import type { SyncState } from './sync';

/** POINTER_EVERY_MS spaces the host's pointer messages (8 a second). */
export const POINTER_EVERY_MS = 125;
/** POINTER_HIDE_MS is how long a follower shows the pointer after its last move. */
export const POINTER_HIDE_MS = 2500;

/** HostPointer is what a follower draws: where, and whose. */
export interface HostPointer {
  userId: string;
  name: string;
  x: number;
  y: number;
}

const unit = (v: number) => Math.min(1, Math.max(0, v));

/**
 * acceptPointer turns a pointer message into what a follower draws, or null
 * when it should not be drawn: no session, not from the session's host (a
 * host who just handed over), from this viewer, or not a position.
 */
export function acceptPointer(p: Pointer, sync: SyncState | null, me: string): HostPointer | null {
  if (!sync?.active || p.user_id !== sync.host_id || p.user_id === me) return null;
  if (!Number.isFinite(p.x) || !Number.isFinite(p.y)) return null;
  return { userId: p.user_id, name: sync.host_name ?? '', x: unit(p.x), y: unit(p.y) };
}

/**
 * framePosition maps a point in the page (clientX, clientY) to the video
 * frame (0..1 each way), or null outside the picture. `picture` is the box
 * the picture is drawn in (inside any letterbox).
 */
export function framePosition(
  clientX: number,
  clientY: number,
  picture: { left: number; top: number; width: number; height: number },
): { x: number; y: number } | null {
  if (!(picture.width > 0) || !(picture.height > 0)) return null;
  const x = (clientX - picture.left) / picture.width;
  const y = (clientY - picture.top) / picture.height;
  if (x < 0 || x > 1 || y < 0 || y > 1) return null;
  return { x, y };
}

/** ThrottleOptions are injectable for tests. */
export interface ThrottleOptions {
  everyMs?: number;
  clock?: () => number;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
}

/**
 * PointerThrottle sends the first move at once, then at most one move every
 * everyMs; moves in between are merged into one trailing send of the latest
 * position, so the followers' dot always ends where the host's pointer did.
 */
export class PointerThrottle {
  #send: (x: number, y: number) => void;
  #every: number;
  #clock: () => number;
  #setTimeout: (fn: () => void, ms: number) => unknown;
  #clearTimeout: (h: unknown) => void;
  #lastAt = -Infinity;
  #pending: { x: number; y: number } | null = null;
  #timer: unknown = null;

  constructor(send: (x: number, y: number) => void, opts: ThrottleOptions = {}) {
    this.#send = send;
    this.#every = opts.everyMs ?? POINTER_EVERY_MS;
    this.#clock = opts.clock ?? (() => performance.now());
    this.#setTimeout = opts.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimeout = opts.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>));
  }

  /** move reports the pointer at (x, y) of the frame (clamped to 0..1). */
  move(x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    this.#pending = { x: unit(x), y: unit(y) };
    const wait = this.#lastAt + this.#every - this.#clock();
    if (wait <= 0) {
      this.#flush();
      return;
    }
    if (this.#timer === null) {
      this.#timer = this.#setTimeout(() => {
        this.#timer = null;
        this.#flush();
      }, wait);
    }
  }

  #flush(): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = null;
    this.#lastAt = this.#clock();
    this.#send(p.x, p.y);
  }

  /** cancel drops a move not sent yet (pointing stopped). */
  cancel(): void {
    this.#pending = null;
    if (this.#timer !== null) {
      this.#clearTimeout(this.#timer);
      this.#timer = null;
    }
  }
}
