// The host's pointer through ReviewCoaching: a follower draws the host's
// pointer and hides it when the moves stop, the session ends or the host
// changes; a host shares theirs, throttled, only while hosting.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Api, type Clip } from './api';
import { ReviewCoaching } from './coaching.svelte';
import type { LiveClient, LiveHandlers, Member, RoomEvent } from './live';
import type { PlayerController, PlayerState } from './player';
import { POINTER_EVERY_MS, POINTER_HIDE_MS } from './pointer';
import type { SyncState } from './sync';
import { MarkerLayer } from './timeline';

const clip = {
  id: 'c1',
  title: 'Lesson',
  owner: { id: 'teacher', name: 'Tess' },
  status: 'ready',
  duration_ms: 60_000,
  my_access: ['view', 'annotate', 'host'],
  audience: { users: [], groups: [] },
  media: null,
} as unknown as Clip;

const member = (user: string): Member => ({
  conn_id: `conn-${user}`,
  user_id: user,
  name: user,
  can_annotate: true,
  can_host: true,
  joined_at_ms: 0,
  playhead_ms: 0,
  playing: false,
  typing: false,
  following: false,
});

const session = (host: string, active = true): SyncState => ({
  active,
  host_id: host,
  host_name: host === 'cora' ? 'Cora Coach' : host,
  playing: false,
  position_ms: 0,
  rate: 1,
  at_server_ms: 0,
});

function setup(me: string) {
  let handlers: LiveHandlers = {};
  const sent: unknown[] = [];
  const live = {
    connect() {},
    close() {},
    send(m: unknown) {
      sent.push(m);
      return true;
    },
    request: () => Promise.resolve(),
    serverNow: () => 0,
  } as unknown as LiveClient;
  const state = { currentMs: 0, durationMs: 60_000 } as PlayerState;
  const controller = {
    video: null,
    state,
    subscribe: (fn: (s: PlayerState) => void) => (fn(state), () => {}),
    seek() {},
  } as unknown as PlayerController;
  const api = new Api({ cookies: () => '', fetch: async () => new Response(JSON.stringify({ items: [] }), { status: 200 }) });
  const coaching = new ReviewCoaching({
    api,
    controller,
    markers: new MarkerLayer(),
    me,
    live: (_id, h) => ((handlers = h), live),
  });
  coaching.open(clip);
  const welcome = (sync: SyncState | null) =>
    handlers.welcome!({ type: 'welcome', v: 1, conn_id: `conn-${me}`, you: member(me), head: 0, since: null, members: [member(me), member('cora')], sync, server_ms: 0, limits: {} });
  const event = (name: string, data: SyncState): RoomEvent => ({ type: 'event', seq: 1, event: name, data }) as unknown as RoomEvent;
  return { coaching, handlers: () => handlers, sent, welcome, event };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('the host’s pointer', () => {
  it('shows a follower the host’s pointer, then hides it when the moves stop', () => {
    const s = setup('pat');
    s.welcome(session('cora'));
    s.handlers().pointer!({ type: 'pointer', user_id: 'cora', x: 0.42, y: 0.61 });
    expect(s.coaching.pointer).toEqual({ userId: 'cora', name: 'Cora Coach', x: 0.42, y: 0.61 });
    vi.advanceTimersByTime(POINTER_HIDE_MS - 100);
    s.handlers().pointer!({ type: 'pointer', user_id: 'cora', x: 0.5, y: 0.5 });
    vi.advanceTimersByTime(POINTER_HIDE_MS - 100);
    expect(s.coaching.pointer).toMatchObject({ x: 0.5, y: 0.5 }); // each move restarts the wait
    vi.advanceTimersByTime(200);
    expect(s.coaching.pointer).toBeNull();
    s.coaching.destroy();
  });

  it('ignores pointers outside a session or from someone who is not the host', () => {
    const s = setup('pat');
    s.welcome(null);
    s.handlers().pointer!({ type: 'pointer', user_id: 'cora', x: 0.4, y: 0.4 });
    expect(s.coaching.pointer).toBeNull();
    s.handlers().event!(s.event('sync.start', session('cora')));
    s.handlers().pointer!({ type: 'pointer', user_id: 'tess', x: 0.4, y: 0.4 });
    expect(s.coaching.pointer).toBeNull();
    s.coaching.destroy();
  });

  it('takes the pointer away when the session ends or the host changes', () => {
    const s = setup('pat');
    s.welcome(session('cora'));
    s.handlers().pointer!({ type: 'pointer', user_id: 'cora', x: 0.4, y: 0.4 });
    s.handlers().event!(s.event('sync.host', session('tess')));
    expect(s.coaching.pointer).toBeNull();
    s.handlers().pointer!({ type: 'pointer', user_id: 'tess', x: 0.1, y: 0.2 });
    expect(s.coaching.pointer).toMatchObject({ userId: 'tess' });
    s.handlers().event!(s.event('sync.end', session('tess', false)));
    expect(s.coaching.pointer).toBeNull();
    s.coaching.destroy();
  });

  it('lets the host share a throttled pointer, and only while hosting', () => {
    const s = setup('cora');
    s.welcome(null);
    s.coaching.setPointing(true);
    expect(s.coaching.pointing).toBe(false); // not hosting: nothing to share
    s.coaching.pointAt(0.5, 0.5);
    expect(s.sent.filter((m) => (m as { type: string }).type === 'pointer')).toEqual([]);

    s.handlers().event!(s.event('sync.start', session('cora')));
    s.coaching.setPointing(true);
    expect(s.coaching.pointing).toBe(true);
    s.coaching.pointAt(0.1, 0.2);
    s.coaching.pointAt(0.3, 0.4);
    s.coaching.pointAt(0.35, 0.45);
    const pointers = () => s.sent.filter((m) => (m as { type: string }).type === 'pointer');
    expect(pointers()).toEqual([{ type: 'pointer', x: 0.1, y: 0.2 }]);
    vi.advanceTimersByTime(POINTER_EVERY_MS);
    expect(pointers()).toEqual([
      { type: 'pointer', x: 0.1, y: 0.2 },
      { type: 'pointer', x: 0.35, y: 0.45 },
    ]);

    // Handing over ends sharing; a move in flight is dropped.
    s.coaching.pointAt(0.9, 0.9);
    s.handlers().event!(s.event('sync.host', session('tess')));
    expect(s.coaching.pointing).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(pointers().length).toBe(2);
    s.coaching.destroy();
  });
});
