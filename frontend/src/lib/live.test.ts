import { describe, expect, it } from 'vitest';
import { backoffDelay, CommandError, LiveClient, liveUrl, type LiveStatus, type RoomEvent, type Timers, type WebSocketLike } from './live';

class FakeSocket implements WebSocketLike {
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  closedWith: number | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.closedWith = code;
  }
  // Server side of the fake.
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  say(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  ofType(type: string) {
    return this.sent.filter((m) => m.type === type);
  }
}

class FakeTimers implements Timers {
  now = 0;
  #next = 1;
  queue = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number) {
    const id = this.#next++;
    this.queue.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(h: unknown) {
    this.queue.delete(h as number);
  }
  /** advance runs every timer due within ms, in order. */
  advance(ms: number) {
    const until = this.now + ms;
    for (;;) {
      let best: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.queue) if (e[1].at <= until && (!best || e[1].at < best[1].at)) best = e;
      if (!best) break;
      this.queue.delete(best[0]);
      this.now = best[1].at;
      best[1].fn();
    }
    this.now = until;
  }
  pendingDelays() {
    return [...this.queue.values()].map((e) => e.at - this.now);
  }
}

function welcome(head: number, since: number | null = null) {
  return {
    type: 'welcome',
    v: 1,
    conn_id: 'c1',
    you: { conn_id: 'c1', user_id: 'u1', name: 'Cora', can_annotate: true, can_host: true, joined_at_ms: 0, playhead_ms: 0, playing: false, typing: false, following: false },
    head,
    since,
    members: [],
    sync: null,
    server_ms: 1000,
    limits: {},
  };
}

const ev = (seq: number, event = 'annotation.created'): RoomEvent => ({ type: 'event', seq, event: event as RoomEvent['event'], at: '2026-01-01T00:00:00Z', data: { id: `a${seq}` } });

function setup() {
  const timers = new FakeTimers();
  const sockets: FakeSocket[] = [];
  const events: number[] = [];
  const statuses: LiveStatus[] = [];
  let resyncs = 0;
  const client = new LiveClient(
    {
      url: 'ws://x/api/v1/clips/k/live',
      socket: (u) => {
        const s = new FakeSocket(u);
        sockets.push(s);
        return s;
      },
      timers,
      now: () => timers.now + 50_000,
      random: () => 1,
    },
    {
      event: (e) => events.push(e.seq),
      status: (s) => statuses.push(s),
      resync: () => resyncs++,
    },
  );
  return { client, timers, sockets, events, statuses, resyncs: () => resyncs };
}

describe('LiveClient', () => {
  it('says hello, delivers events once in order, and resumes with since after a drop', () => {
    const { client, timers, sockets, events, statuses } = setup();
    client.connect();
    const s1 = sockets[0];
    expect(s1.url).toBe('ws://x/api/v1/clips/k/live');
    s1.open();
    expect(s1.sent[0]).toEqual({ type: 'hello', v: 1 });
    s1.say(welcome(10));
    expect(client.lastSeq).toBe(10);
    s1.say(ev(11));
    s1.say(ev(12));
    s1.say(ev(12)); // duplicate
    s1.say(ev(14)); // 13 was someone's private note: a gap is normal
    expect(events).toEqual([11, 12, 14]);

    s1.drop(1006);
    expect(client.status).toBe('reconnecting');
    expect(sockets).toHaveLength(1);
    timers.advance(500);
    expect(sockets).toHaveLength(2);
    const s2 = sockets[1];
    expect(s2.url).toBe('ws://x/api/v1/clips/k/live?since=14');
    s2.open();
    expect(s2.sent[0]).toEqual({ type: 'hello', v: 1, since: 14 });
    s2.say(welcome(16, 14));
    // Replay overlaps what was already seen (the ring replays from since).
    s2.say(ev(14));
    s2.say(ev(15));
    s2.say(ev(16));
    s2.say(ev(17));
    expect(events).toEqual([11, 12, 14, 15, 16, 17]);
    expect(statuses).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  });

  it('backs off with growing delays, resets after welcome, and reconnects at once when too slow', () => {
    const { client, timers, sockets } = setup();
    client.connect();
    sockets[0].drop();
    expect(timers.pendingDelays()).toEqual([500]);
    timers.advance(500);
    sockets[1].drop();
    expect(timers.pendingDelays()).toEqual([1000]);
    timers.advance(1000);
    sockets[2].drop();
    expect(timers.pendingDelays()).toEqual([2000]);
    timers.advance(2000);
    sockets[3].open();
    sockets[3].say(welcome(0));
    // Pings are pending now; the reconnect delay after a welcome starts over.
    sockets[3].drop(4008);
    expect(timers.pendingDelays()).toEqual([0]);
    timers.advance(0);
    expect(sockets).toHaveLength(5);
  });

  it('gives up on protocol errors and stays closed after close()', () => {
    const { client, sockets, timers, statuses } = setup();
    client.connect();
    sockets[0].open();
    sockets[0].drop(4400);
    expect(client.status).toBe('failed');
    timers.advance(60_000);
    expect(sockets).toHaveLength(1);

    const other = setup();
    other.client.connect();
    other.sockets[0].open();
    other.client.close();
    expect(other.sockets[0].closedWith).toBe(1000);
    other.timers.advance(60_000);
    expect(other.sockets).toHaveLength(1);
    expect(statuses).toContain('failed');
  });

  it('does not reconnect once access ended (4401 signed out, 4403 access revoked)', () => {
    for (const code of [4401, 4403]) {
      const { client, sockets, timers } = setup();
      client.connect();
      sockets[0].open();
      sockets[0].drop(code);
      expect(client.status).toBe('failed');
      timers.advance(60_000);
      expect(sockets).toHaveLength(1);
    }
  });

  it('pings 8 times quickly then once a second, and estimates the server clock', () => {
    const { client, timers, sockets } = setup();
    client.connect();
    const s = sockets[0];
    s.open();
    s.say(welcome(0));
    timers.advance(2000);
    const pings = s.ofType('ping');
    // 8 at 100 ms (0..700), then 1700: 9 by 2 s.
    expect(pings).toHaveLength(9);
    // The server's clock is 1234 ms ahead; answer each ping after 20 ms.
    for (const p of pings) {
      const t0 = (p.t as number) / 1000;
      timers.now = t0 - 50_000 + 20;
      s.say({ type: 'pong', t: p.t, server_ms: t0 + 10 + 1234 });
    }
    expect(client.serverNow()! - (timers.now + 50_000)).toBeCloseTo(1234, 6);
  });

  it('settles commands by their ack or error and fails them on a drop', async () => {
    const { client, sockets } = setup();
    client.connect();
    const s = sockets[0];
    await expect(client.request({ type: 'sync.start' })).rejects.toBeInstanceOf(CommandError);
    s.open();
    s.say(welcome(0));
    const ok = client.request({ type: 'sync.seek', position_ms: 5000 });
    const bad = client.request({ type: 'sync.end' });
    const lost = client.request({ type: 'sync.pause' });
    const [m1, m2] = s.sent.filter((m) => String(m.type).startsWith('sync.'));
    expect(m1).toMatchObject({ type: 'sync.seek', position_ms: 5000 });
    s.say({ type: 'ack', ref: m1.ref, seq: 3 });
    s.say({ type: 'error', ref: m2.ref, code: 'forbidden', message: 'only the host' });
    await expect(ok).resolves.toMatchObject({ seq: 3 });
    await expect(bad).rejects.toMatchObject({ code: 'forbidden' });
    s.drop();
    await expect(lost).rejects.toMatchObject({ code: 'disconnected' });
    expect(client.send({ type: 'typing', typing: true })).toBe(false);
  });

  it('continues from head and asks for a reload when replay is impossible', () => {
    const { client, sockets, timers, events, resyncs } = setup();
    client.connect();
    sockets[0].open();
    sockets[0].say(welcome(100));
    sockets[0].say(ev(101));
    sockets[0].drop();
    timers.advance(500);
    sockets[1].open();
    sockets[1].say(welcome(20_000, null));
    sockets[1].say({ type: 'error', code: 'replay_too_large', message: 'too far behind' });
    expect(resyncs()).toBe(1);
    sockets[1].say(ev(20_001));
    expect(events).toEqual([101, 20_001]);
  });
});

describe('helpers', () => {
  it('builds the room address from the page location', () => {
    expect(liveUrl('a b', { protocol: 'https:', host: 'films.school.test' })).toBe('wss://films.school.test/api/v1/clips/a%20b/live');
    expect(liveUrl('k', { protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/api/v1/clips/k/live');
  });

  it('computes jittered, capped backoff', () => {
    expect(backoffDelay(0, 500, 15000, 1)).toBe(500);
    expect(backoffDelay(0, 500, 15000, 0)).toBe(250);
    expect(backoffDelay(10, 500, 15000, 1)).toBe(15000);
  });
});
