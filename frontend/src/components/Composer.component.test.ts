// The composer mounted for real (Svelte in happy-dom) against a
// ReviewCoaching whose API answers from a fake fetch and whose player is a
// real <video> element moved by hand: time capture, I/O ranges, validation
// and the request it sends.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Composer from './Composer.svelte';
import { Api, type Clip } from '../lib/api';
import type { Rubric } from '../lib/annotationsApi';
import { ReviewCoaching } from '../lib/coaching.svelte';
import { LiveClient, type WebSocketLike } from '../lib/live';
import type { PlayerController, PlayerState } from '../lib/player';
import { MarkerLayer } from '../lib/timeline';

const rubric = {
  id: 'r1',
  title: 'Microteaching feedback',
  version: 1,
  domains: [
    {
      key: 'd',
      title: 'D',
      criteria: [
        { key: 'wait', title: 'Wait time', levels: [{ key: 'pro', label: 'Proficient', score: 3 }] },
        { key: 'q', title: 'Questioning', levels: [] },
      ],
    },
  ],
} as unknown as Rubric;

const clip = {
  id: 'c1',
  title: 'Lesson',
  owner: { id: 'teacher', name: 'Tess' },
  duration_ms: 60_000,
  has_video: true,
  rubric_id: 'r1',
  my_access: ['view', 'annotate'],
  feedback_after_reflection: false,
} as unknown as Clip;

function setup() {
  const posted: Array<{ url: string; body: Record<string, unknown> }> = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    if (init.method === 'POST' && url.endsWith('/annotations')) {
      const body = JSON.parse(String(init.body));
      posted.push({ url, body });
      return json(201, { id: `a${posted.length}`, author: { id: 'coach', name: 'Cora' }, end_ms: null, region: null, tags: [], body_html: '', revision: 1, reply_count: 0, ...body });
    }
    if (init.method === 'PATCH' && url.includes('/annotations/')) {
      const body = JSON.parse(String(init.body));
      posted.push({ url, body });
      return json(200, { id: 'a1', author: { id: 'coach', name: 'Cora' }, region: null, tags: [], body_html: '', reply_count: 0, ...body, revision: 2 });
    }
    if (url.includes('/annotations')) return json(200, { items: [] });
    if (url.includes('/rubrics/')) return json(200, rubric);
    return json(404, { error: { code: 'not_found', message: 'not found' } });
  });
  const video = document.createElement('video');
  let state: PlayerState = { currentMs: 0, durationMs: 60_000 } as PlayerState;
  const listeners = new Set<(s: PlayerState) => void>();
  const controller = {
    get video() {
      return video;
    },
    get state() {
      return state;
    },
    subscribe(fn: (s: PlayerState) => void) {
      listeners.add(fn);
      fn(state);
      return () => listeners.delete(fn);
    },
    seek(ms: number) {
      video.currentTime = ms / 1000;
    },
  } as unknown as PlayerController;
  const moveTo = (s: number) => {
    video.currentTime = s;
    state = { ...state, currentMs: s * 1000 };
    for (const fn of listeners) fn(state);
  };
  // The room never opens: the composer works over REST alone.
  const silentSocket = (): WebSocketLike => ({ readyState: 0, send() {}, close() {}, onopen: null, onmessage: null, onclose: null, onerror: null });
  const coaching = new ReviewCoaching({
    api: new Api({ fetch, cookies: () => '' }),
    controller,
    markers: new MarkerLayer(),
    me: 'coach',
    live: (_id, handlers) => new LiveClient({ url: 'ws://x', socket: silentSocket }, handlers),
  });
  coaching.open(clip);
  const target = document.createElement('div');
  document.body.append(target);
  const app = mount(Composer, { target, props: { coaching } });
  const q = <T extends Element>(sel: string) => target.querySelector<T>(sel)!;
  const button = (name: string) => [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === name)!;
  const time = () => q('.time').textContent?.trim();
  const type = (el: HTMLTextAreaElement | HTMLInputElement, value: string) => {
    el.focus();
    el.dispatchEvent(new Event('focus'));
    el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
  };
  const cleanup = () => {
    unmount(app);
    target.remove();
    coaching.destroy();
  };
  return { coaching, moveTo, q, button, time, type, posted, fetch, cleanup };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

describe('Composer', () => {
  it('captures the playhead when writing starts, then keeps that time', async () => {
    const s = setup();
    cleanup = s.cleanup;
    s.moveTo(12.3);
    flushSync();
    s.type(s.q<HTMLTextAreaElement>('textarea'), 'Nice pause');
    expect(s.time()).toBe('At 0:12');
    s.moveTo(30);
    flushSync();
    expect(s.time()).toBe('At 0:12');
    s.button('Use current time').click();
    flushSync();
    expect(s.time()).toBe('At 0:30');
  });

  it('marks a range with I and O (buttons and the shared draft)', () => {
    const s = setup();
    cleanup = s.cleanup;
    s.moveTo(5);
    s.button('Set start (I)').click();
    s.moveTo(9.5);
    s.button('Set end (O)').click();
    flushSync();
    expect(s.time()).toBe('From 0:05 to 0:09');
    // O before the start swaps the ends.
    s.moveTo(2);
    s.coaching.markOut();
    flushSync();
    expect(s.time()).toBe('From 0:02 to 0:05');
    s.button('Make it a moment').click();
    flushSync();
    expect(s.time()).toBe('At 0:02');
  });

  it('refuses an empty note and says why, next to the field, without a request', async () => {
    const s = setup();
    cleanup = s.cleanup;
    s.q<HTMLFormElement>('form').requestSubmit();
    await vi.waitFor(() => expect(s.q('textarea').getAttribute('aria-invalid')).toBe('true'));
    expect(s.q('.field-error').textContent).toBe('Write a comment or choose a criterion.');
    expect(s.posted).toHaveLength(0);
  });

  it('saves a coded range with a level and resets', async () => {
    const s = setup();
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.coaching.criteria).toHaveLength(2));
    flushSync();
    s.moveTo(5);
    s.button('Set start (I)').click();
    s.moveTo(9);
    s.button('Set end (O)').click();
    s.type(s.q<HTMLTextAreaElement>('textarea'), 'Good **wait**');
    const criterion = [...s.q('form').querySelectorAll('select')][0];
    criterion.value = 'wait';
    criterion.dispatchEvent(new Event('change', { bubbles: true }));
    flushSync();
    const level = [...s.q('form').querySelectorAll('select')][1];
    expect(level.disabled).toBe(false);
    level.value = 'pro';
    level.dispatchEvent(new Event('change', { bubbles: true }));
    s.type(s.q<HTMLInputElement>('input[type="text"]'), 'Wait, Pause');
    s.q<HTMLFormElement>('form').requestSubmit();
    await vi.waitFor(() => expect(s.posted).toHaveLength(1));
    const { url, body } = s.posted[0];
    expect(url).toBe('/api/v1/clips/c1/annotations');
    expect(body).toMatchObject({ start_ms: 5000, end_ms: 9000, body: 'Good **wait**', criterion: 'wait', level: 'pro', tags: ['wait', 'pause'], kind: 'note', visibility: 'audience' });
    expect(typeof body.idempotency_key).toBe('string');
    await vi.waitFor(() => expect(s.q('.alert-success').textContent?.trim()).toBe('Feedback saved at 0:05.'));
    expect(s.q<HTMLTextAreaElement>('textarea').value).toBe('');
    expect(s.coaching.annotations.map((a) => a.start_ms)).toEqual([5000]);
  });

  it('edits an annotation with its revision and clears what was removed', async () => {
    const s = setup();
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.coaching.criteria).toHaveLength(2));
    s.coaching.edit({
      id: 'a1', clip_id: 'c1', author: { id: 'coach', name: 'Cora' }, start_ms: 4000, end_ms: 8000, region: { x: 0.1, y: 0.1, w: 0.2, h: 0.2 },
      body: 'Old', body_html: '<p>Old</p>', kind: 'question', tags: ['x'], visibility: 'private', criterion: 'q', revision: 1, reply_count: 0,
      created_at: '', updated_at: '',
    });
    flushSync();
    expect(s.q('h2').textContent).toBe('Edit feedback');
    expect(s.time()).toBe('From 0:04 to 0:08');
    s.button('Remove the box').click();
    s.button('Make it a moment').click();
    s.type(s.q<HTMLTextAreaElement>('textarea'), 'New');
    s.q<HTMLFormElement>('form').requestSubmit();
    await vi.waitFor(() => expect(s.posted).toHaveLength(1));
    expect(s.posted[0].url).toBe('/api/v1/clips/c1/annotations/a1');
    expect(s.posted[0].body).toEqual({
      start_ms: 4000, end_ms: null, region: null, body: 'New', kind: 'question', tags: ['x'], visibility: 'private', criterion: 'q', level: null, revision: 1,
    });
    await vi.waitFor(() => expect(s.q('h2').textContent).toBe('Add feedback'));
  });
});
