// The live review client: one websocket per clip (/api/v1/clips/{id}/live,
// docs/live-protocol.md). It says hello with the last seq it received,
// delivers room events once and in order (dropping replayed duplicates by
// seq), reconnects with backoff and `since` so nothing is lost to a flaky
// connection, pings to estimate the server clock (sync.ts), and turns client
// commands into promises settled by their ack or error.
//
// The socket and timers are injectable, so live.test.ts drives the client
// with a fake server; nothing here touches the DOM.

import { ClockEstimator, type SyncState } from './sync';

/** PROTOCOL_VERSION is the "v" of hello. */
export const PROTOCOL_VERSION = 1;

/** Member is one connection in a room. */
export interface Member {
  conn_id: string;
  user_id: string;
  name: string;
  can_annotate: boolean;
  can_host: boolean;
  joined_at_ms: number;
  playhead_ms: number;
  playing: boolean;
  typing: boolean;
  following: boolean;
}

/** Welcome answers hello. */
export interface Welcome {
  type: 'welcome';
  v: number;
  conn_id: string;
  you: Member;
  head: number;
  since: number | null;
  members: Member[];
  sync: SyncState | null;
  server_ms: number;
  limits: Record<string, number>;
}

/** EventName lists every durable room event. */
export type EventName =
  | 'annotation.created'
  | 'annotation.updated'
  | 'annotation.deleted'
  | 'reply.created'
  | 'reply.updated'
  | 'reply.deleted'
  | 'sync.start'
  | 'sync.play'
  | 'sync.pause'
  | 'sync.seek'
  | 'sync.rate'
  | 'sync.host'
  | 'sync.end'
  | 'captions.changed';

/** RoomEvent is one durable event with its per-room seq. */
export interface RoomEvent {
  type: 'event';
  seq: number;
  event: EventName;
  actor_id?: string;
  at: string;
  /**
   * data is the resource as the REST API returns it, the SyncState after a
   * sync event, or the clip's CaptionState after captions.changed.
   */
  data: unknown;
}

/** Presence is a member joining, leaving or changing playhead/typing/following. */
export interface Presence {
  type: 'presence';
  op: 'join' | 'leave' | 'update';
  member: Member;
}

/** Pointer is where the host points on the frame (0..1). */
export interface Pointer {
  type: 'pointer';
  user_id: string;
  x: number;
  y: number;
}

/** SyncRequested says a member asks the host for control. */
export interface SyncRequested {
  type: 'sync.requested';
  user_id: string;
  name: string;
}

/** LiveError is an error message from the room (with the ref of the message it answers). */
export interface LiveError {
  type: 'error';
  ref?: string;
  code: string;
  message: string;
  fields?: Record<string, string>;
}

/** Ack answers a successful client message that carried a ref. */
export interface Ack {
  type: 'ack';
  ref?: string;
  seq?: number;
  data?: unknown;
}

interface Pong {
  type: 'pong';
  t: number;
  server_ms: number;
}

/** ServerMessage is everything the room sends. */
export type ServerMessage = Welcome | RoomEvent | Presence | Pointer | SyncRequested | LiveError | Ack | Pong;

/** Command is a client message other than hello and ping. */
export type Command =
  | { type: 'annotation.create'; body: Record<string, unknown> }
  | { type: 'annotation.update'; id: string; body: Record<string, unknown> }
  | { type: 'annotation.delete'; id: string }
  | { type: 'playhead'; position_ms: number; playing?: boolean }
  | { type: 'typing'; typing: boolean }
  | { type: 'follow'; following: boolean }
  | { type: 'pointer'; x: number; y: number }
  | { type: 'sync.start'; position_ms?: number; playing?: boolean; rate?: number }
  | { type: 'sync.play'; position_ms?: number; at_ms?: number }
  | { type: 'sync.pause'; position_ms?: number; at_ms?: number }
  | { type: 'sync.seek'; position_ms: number; at_ms?: number }
  | { type: 'sync.rate'; rate: number }
  | { type: 'sync.handoff'; user_id: string }
  | { type: 'sync.request' }
  | { type: 'sync.take' }
  | { type: 'sync.end' };

/**
 * LiveStatus is the connection as people see it: `connecting` the first
 * time, `open` after welcome, `reconnecting` after a drop (nothing is lost:
 * the next hello resumes after the last seq), `failed` when retrying cannot
 * help (the client broke the protocol), `closed` after close().
 */
export type LiveStatus = 'connecting' | 'open' | 'reconnecting' | 'failed' | 'closed';

/** WebSocketLike is the part of WebSocket the client uses; tests pass a fake. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

const OPEN = 1;

/** Timers are injectable for tests (the defaults are the browser's). */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
}

/** LiveOptions configures a client. */
export interface LiveOptions {
  /** url is the websocket address without `since` (see liveUrl). */
  url: string;
  socket?: (url: string) => WebSocketLike;
  timers?: Timers;
  /** now is the client clock in ms since the epoch (default: performance time origin + now). */
  now?: () => number;
  /** random in [0, 1) for backoff jitter. */
  random?: () => number;
  /** backoff: first delay and cap in ms (default 500 ms doubling to 15 s). */
  backoffMs?: { base: number; max: number };
}

/** Handlers receive what the room says; every one is optional. */
export interface LiveHandlers {
  welcome?: (w: Welcome) => void;
  /** event gets every durable event once, in seq order, replayed ones first. */
  event?: (e: RoomEvent) => void;
  presence?: (p: Presence) => void;
  pointer?: (p: Pointer) => void;
  syncRequested?: (r: SyncRequested) => void;
  /** error gets room errors that answer no pending command. */
  error?: (e: LiveError) => void;
  status?: (s: LiveStatus, detail: { attempt: number; code?: number }) => void;
  /** resync asks the page to reload its annotations over REST (replay was impossible). */
  resync?: () => void;
}

/** CommandError is a failed command (the room's error code and message). */
export class CommandError extends Error {
  readonly code: string;
  readonly fields: Record<string, string>;
  constructor(code: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.fields = fields;
  }
}

/** liveUrl builds the websocket address of a clip's room from the page's location. */
export function liveUrl(clipId: string, loc: { protocol: string; host: string } = window.location): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/v1/clips/${encodeURIComponent(clipId)}/live`;
}

// Close codes after which reconnecting cannot help: the client is wrong, or
// its access ended (4401 signed out, 4403 access revoked; see
// docs/live-protocol.md), and a reconnect would only be refused.
const FATAL_CODES = new Set([1003, 1009, 4000, 4400, 4401, 4403]);

/** backoffDelay is the wait before reconnect attempt n (0-based): doubling, capped, with jitter in [50 %, 100 %]. */
export function backoffDelay(attempt: number, base: number, max: number, random: number): number {
  const d = Math.min(max, base * 2 ** Math.min(attempt, 20));
  return Math.round(d * (0.5 + random / 2));
}

/** LiveClient is one clip's live connection. Create, connect, and close when the page goes. */
export class LiveClient {
  readonly clock = new ClockEstimator();
  #opts: LiveOptions;
  #h: LiveHandlers;
  #ws: WebSocketLike | null = null;
  #timers: Timers;
  #now: () => number;
  #lastSeq: number | null = null;
  #status: LiveStatus = 'connecting';
  #attempt = 0;
  #retry: unknown = null;
  #pingTimer: unknown = null;
  #pingsSent = 0;
  #refs = 0;
  #pending = new Map<string, { resolve: (a: Ack) => void; reject: (e: Error) => void }>();
  #closed = false;
  #welcomed = false;
  #head = 0;

  constructor(opts: LiveOptions, handlers: LiveHandlers = {}) {
    this.#opts = opts;
    this.#h = handlers;
    this.#timers = opts.timers ?? {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    this.#now = opts.now ?? (() => performance.timeOrigin + performance.now());
  }

  /** lastSeq is the seq of the last event delivered (null before any). */
  get lastSeq(): number | null {
    return this.#lastSeq;
  }

  get status(): LiveStatus {
    return this.#status;
  }

  /** serverNow is the server's clock by the current estimate, or null before the first pong. */
  serverNow(): number | null {
    const o = this.clock.offset();
    return o ? this.#now() + o.offset : null;
  }

  /** connect opens the socket (once; reconnects happen by themselves). */
  connect(): void {
    if (this.#ws || this.#closed) return;
    this.#setStatus('connecting');
    this.#open();
  }

  #setStatus(s: LiveStatus, code?: number): void {
    this.#status = s;
    this.#h.status?.(s, { attempt: this.#attempt, code });
  }

  #open(): void {
    const url = this.#lastSeq === null ? this.#opts.url : `${this.#opts.url}?since=${this.#lastSeq}`;
    const make = this.#opts.socket ?? ((u: string) => new WebSocket(u) as unknown as WebSocketLike);
    let ws: WebSocketLike;
    try {
      ws = make(url);
    } catch {
      this.#scheduleReconnect(undefined);
      return;
    }
    this.#ws = ws;
    this.#welcomed = false;
    ws.onopen = () => {
      const hello: Record<string, unknown> = { type: 'hello', v: PROTOCOL_VERSION };
      if (this.#lastSeq !== null) hello.since = this.#lastSeq;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      this.#receive(msg);
    };
    ws.onerror = () => {
      // A close event always follows; it decides what to do.
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#stopPings();
      this.#failPending(new CommandError('disconnected', 'the live connection dropped'));
      if (this.#closed) return;
      if (FATAL_CODES.has(ev.code)) {
        this.#setStatus('failed', ev.code);
        return;
      }
      this.#scheduleReconnect(ev.code);
    };
  }

  #scheduleReconnect(code: number | undefined): void {
    this.#setStatus('reconnecting', code);
    const b = this.#opts.backoffMs ?? { base: 500, max: 15_000 };
    let delay: number;
    if (code === 4008) delay = 0; // too slow: resume at once with since
    else if (code === 4029) delay = Math.max(5_000, backoffDelay(this.#attempt, b.base, b.max, this.#random()));
    else delay = backoffDelay(this.#attempt, b.base, b.max, this.#random());
    this.#attempt++;
    this.#retry = this.#timers.setTimeout(() => {
      this.#retry = null;
      if (!this.#closed) this.#open();
    }, delay);
  }

  #random(): number {
    return (this.#opts.random ?? Math.random)();
  }

  #receive(msg: ServerMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.#welcomed = true;
        this.#attempt = 0;
        this.#head = msg.head;
        // A first connection starts from the room's head; replay (if any) follows.
        if (this.#lastSeq === null) this.#lastSeq = msg.head;
        this.clock.reset();
        this.#startPings();
        this.#setStatus('open');
        this.#h.welcome?.(msg);
        return;
      case 'event':
        if (this.#lastSeq !== null && msg.seq <= this.#lastSeq) return; // a duplicate (replay overlap)
        this.#lastSeq = msg.seq;
        this.#h.event?.(msg);
        return;
      case 'presence':
        this.#h.presence?.(msg);
        return;
      case 'pointer':
        this.#h.pointer?.(msg);
        return;
      case 'sync.requested':
        this.#h.syncRequested?.(msg);
        return;
      case 'pong':
        this.clock.add(msg.t / 1000, msg.server_ms, this.#now());
        return;
      case 'ack': {
        const p = msg.ref ? this.#pending.get(msg.ref) : undefined;
        if (p && msg.ref) {
          this.#pending.delete(msg.ref);
          p.resolve(msg);
        }
        return;
      }
      case 'error': {
        if (msg.code === 'since_ahead' || msg.code === 'replay_too_large') {
          // The room cannot replay what we missed: continue from its head and
          // let the page reload what it shows over REST.
          this.#lastSeq = this.#head;
          this.#h.resync?.();
        }
        const p = msg.ref ? this.#pending.get(msg.ref) : undefined;
        if (p && msg.ref) {
          this.#pending.delete(msg.ref);
          p.reject(new CommandError(msg.code, msg.message, msg.fields));
          return;
        }
        this.#h.error?.(msg);
        return;
      }
    }
  }

  #startPings(): void {
    this.#stopPings();
    this.#pingsSent = 0;
    const ping = () => {
      this.#pingTimer = null;
      const ws = this.#ws;
      if (!ws || ws.readyState !== OPEN) return;
      ws.send(JSON.stringify({ type: 'ping', t: Math.round(this.#now() * 1000) }));
      this.#pingsSent++;
      // 8 quick pings on join for a first estimate, then one a second.
      this.#pingTimer = this.#timers.setTimeout(ping, this.#pingsSent < 8 ? 100 : 1000);
    };
    ping();
  }

  #stopPings(): void {
    if (this.#pingTimer !== null) this.#timers.clearTimeout(this.#pingTimer);
    this.#pingTimer = null;
  }

  #failPending(err: Error): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) p.reject(err);
  }

  /**
   * send sends a message that needs no answer (presence: playhead, typing,
   * follow, pointer). It returns false when not connected: presence is
   * ephemeral, and the next change says it again.
   */
  send(cmd: Command): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN || !this.#welcomed) return false;
    ws.send(JSON.stringify(cmd));
    return true;
  }

  /** request sends a command with a ref and settles with its ack or error. */
  request(cmd: Command): Promise<Ack> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN || !this.#welcomed) {
      return Promise.reject(new CommandError('disconnected', 'the live connection is not open'));
    }
    const ref = `r${++this.#refs}`;
    return new Promise<Ack>((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      ws.send(JSON.stringify({ ...cmd, ref }));
    });
  }

  /** close leaves the room for good. */
  close(): void {
    this.#closed = true;
    if (this.#retry !== null) this.#timers.clearTimeout(this.#retry);
    this.#retry = null;
    this.#stopPings();
    const ws = this.#ws;
    this.#ws = null;
    this.#failPending(new CommandError('closed', 'the live connection was closed'));
    ws?.close(1000, 'leaving');
    this.#setStatus('closed');
  }
}
