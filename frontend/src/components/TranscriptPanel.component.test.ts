// The transcript panel mounted for real (Svelte in happy-dom) against a
// captions API answering from a fake fetch and a player moved by hand: job
// states, lines as buttons, the playing word, click to seek, search with
// Enter / Shift+Enter, and following playback.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import TranscriptPanel from './TranscriptPanel.svelte';
import { reactiveProps } from './reactiveProps.svelte';
import { Api, type Clip } from '../lib/api';
import { CaptionsApi, type CaptionState, type CaptionTrackState, type TranscriptWord } from '../lib/captionsApi';
import { POLL_MS } from '../lib/library';
import type { PlayerController, PlayerState } from '../lib/player';

const clip = { id: 'c1', title: 'Lesson', duration_ms: 60_000 } as unknown as Clip;

const track: CaptionTrackState = {
  lang: 'en',
  label: 'English',
  current: 'machine',
  has_machine: true,
  has_edited: false,
  engine: 'pocketsphinx',
  cues: 2,
  path: 'captions/en.vtt',
  created_at: '2026-03-01T10:00:00Z',
  updated_at: '2026-03-01T10:00:00Z',
};

const words: TranscriptWord[] = [
  { start_ms: 1000, end_ms: 1300, text: 'Who', confidence: 1 },
  { start_ms: 1400, end_ms: 1600, text: 'can', confidence: 1 },
  { start_ms: 1700, end_ms: 2000, text: 'count', confidence: 1 },
  { start_ms: 2100, end_ms: 2300, text: 'to', confidence: 1 },
  { start_ms: 2400, end_ms: 2800, text: 'three?', confidence: 1 },
  { start_ms: 9000, end_ms: 9500, text: 'Three!', confidence: 1 },
];

function setup(state: CaptionState, opts: { canEdit?: boolean; generate?: () => Response } = {}) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    if (url.endsWith('/captions/generate') && init?.method === 'POST' && opts.generate) return opts.generate();
    if (url.endsWith('/captions')) return json(200, { captions: state });
    if (url.endsWith('/captions/en/transcript')) return json(200, { version: 'machine', transcript: { version: 1, words } });
    return json(404, { error: { code: 'not_found', message: 'not found' } });
  });
  let ps = { currentMs: 0, durationMs: 60_000, ready: true } as PlayerState;
  const listeners = new Set<(s: PlayerState) => void>();
  const seeks: number[] = [];
  const controller = {
    get state() {
      return ps;
    },
    subscribe(fn: (s: PlayerState) => void) {
      listeners.add(fn);
      fn(ps);
      return () => listeners.delete(fn);
    },
    seek(ms: number) {
      seeks.push(ms);
    },
  } as unknown as PlayerController;
  const moveTo = (ms: number) => {
    ps = { ...ps, currentMs: ms };
    for (const fn of listeners) fn(ps);
    flushSync();
  };
  const target = document.createElement('div');
  document.body.append(target);
  const captions = new CaptionsApi(new Api({ fetch, cookies: () => '' }));
  const changes: number[] = [];
  const props = reactiveProps({
    clip: { ...clip, has_audio: true } as Clip,
    controller,
    captions,
    canEdit: opts.canEdit ?? false,
    onchanged: () => changes.push(Date.now()),
    live: null as CaptionState | null,
  });
  const app = mount(TranscriptPanel, { target, props });
  const q = <T extends Element>(sel: string) => target.querySelector<T>(sel);
  const all = (sel: string) => [...target.querySelectorAll<HTMLElement>(sel)];
  const button = (name: string) => all('button').find((b) => b.textContent?.trim() === name);
  const cleanup = () => {
    unmount(app);
    target.remove();
  };
  const setState = (next: CaptionState) => {
    state = next;
  };
  return { target, q, all, button, moveTo, seeks, cleanup, fetch, props, changes, setState };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

describe('TranscriptPanel', () => {
  it('shows the progress of a running job', async () => {
    const s = setup({ status: 'running', progress: 41.6, tracks: [] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.q('[role="status"]')?.textContent).toContain('Captioning the clip: 42% done.'));
    expect(s.q('[role="progressbar"]')?.getAttribute('aria-valuenow')).toBe('42');
    expect(s.q('ol')).toBeNull();
  });

  it('shows the cues of the parts done while later parts are captioned, and hands each new part to the player', async () => {
    const s = setup({ status: 'running', progress: 40, parts: 5, parts_done: 2, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.q('[role="status"]')?.textContent).toContain('Captioning… 2 of 5 parts done.'));
    await vi.waitFor(() => expect(s.all('[data-w]')).toHaveLength(6));
    expect(s.changes).toHaveLength(0);
    // A third part lands: the next poll sees the track grow.
    s.setState({ status: 'running', progress: 60, parts: 5, parts_done: 3, tracks: [{ ...track, cues: 3, updated_at: '2026-03-01T10:01:00Z' }] });
    await vi.waitFor(() => expect(s.q('[role="status"]')?.textContent).toContain('3 of 5 parts'), { timeout: POLL_MS * 3 });
    expect(s.changes).toHaveLength(1);
    // The last part: captions are ready, and the player reloads once more.
    s.setState({ status: 'ready', progress: 100, parts: 0, parts_done: 0, tracks: [{ ...track, cues: 4, updated_at: '2026-03-01T10:02:00Z' }] });
    await vi.waitFor(() => expect(s.changes).toHaveLength(2), { timeout: POLL_MS * 3 });
  });

  it('says why there are no captions', async () => {
    const s = setup({ status: 'none', progress: 0, reason: 'the clip has no sound', tracks: [] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.target.textContent).toContain('This clip has no automatic captions.'));
    expect(s.target.textContent).toContain('the clip has no sound');
  });

  it('renders lines as the only buttons of the list and seeks from a word or a line', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-line]')).toHaveLength(2));
    const list = s.q('ol')!;
    expect(list.getAttribute('aria-label')).toBe('Transcript lines: choose one to play from there');
    expect(list.querySelectorAll('button')).toHaveLength(2);
    expect(s.all('[data-w]').map((w) => w.textContent)).toEqual(words.map((w) => w.text));
    expect(s.all('[data-line] .time').map((x) => x.textContent)).toEqual(['0:01', '0:09']);
    expect(s.target.textContent).toContain('Automatic captions (pocketsphinx): some words may be wrong.');

    s.all('[data-w]')[2].click(); // "count"
    s.all('[data-line]')[1].click(); // the second line
    expect(s.seeks).toEqual([1700, 9000]);
  });

  it('highlights the word being said and its line', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-w]')).toHaveLength(6));
    s.moveTo(1750);
    expect(s.all('[data-w].now').map((w) => w.textContent)).toEqual(['count']);
    expect(s.all('.now-line')).toEqual([s.all('[data-line]')[0]]);
    s.moveTo(9100);
    expect(s.all('[data-w].now').map((w) => w.textContent)).toEqual(['Three!']);
    expect(s.all('.now-line')).toEqual([s.all('[data-line]')[1]]);
    s.moveTo(30_000); // a long silence: no word, the last line stays current
    expect(s.all('[data-w].now')).toEqual([]);
    expect(s.all('.now-line')).toEqual([s.all('[data-line]')[1]]);
  });

  it('searches with Enter and Shift+Enter and announces the match', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-w]')).toHaveLength(6));
    const input = s.q<HTMLInputElement>('input[type="search"]')!;
    const status = () => s.q(`#${input.getAttribute('aria-describedby')!.split(' ')[1]}`)?.textContent;
    input.value = 'three';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(status()).toBe('Match 1 of 2, at 0:02');
    expect(s.all('[data-w].hit').map((w) => w.textContent)).toEqual(['three?', 'Three!']);
    expect(s.all('[data-w].hit-current').map((w) => w.textContent)).toEqual(['three?']);
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    flushSync();
    expect(status()).toBe('Match 2 of 2, at 0:09');
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true, bubbles: true }));
    flushSync();
    expect(status()).toBe('Match 1 of 2, at 0:02');
    input.value = 'seven';
    input.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    expect(status()).toBe('No match for “seven”.');
    expect(s.all('[data-w].hit')).toEqual([]);
  });

  it('is one tab stop; the arrows move between lines', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-line]')).toHaveLength(2));
    const stops = () => s.all('[data-line]').map((b) => b.tabIndex);
    expect(stops()).toEqual([0, -1]);
    s.moveTo(9100); // the line being said takes the tab stop
    expect(stops()).toEqual([-1, 0]);
    const [first, second] = s.all('[data-line]');
    second.focus();
    second.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowUp', bubbles: true }));
    flushSync();
    expect(document.activeElement).toBe(first);
    expect(stops()).toEqual([0, -1]);
    first.dispatchEvent(new KeyboardEvent('keydown', { key: 'End', bubbles: true }));
    flushSync();
    expect(document.activeElement).toBe(second);
    expect(s.button('Follow playback')).toBeDefined(); // reading: following stopped
  });

  it('stops following playback on a manual scroll and resumes on request', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-w]')).toHaveLength(6));
    expect(s.button('Follow playback')).toBeUndefined();
    s.q('ol')!.dispatchEvent(new Event('wheel'));
    flushSync();
    s.button('Follow playback')!.click();
    flushSync();
    expect(s.button('Follow playback')).toBeUndefined();
  });

  it('takes a change announced in the live room and reloads the player only when a track changed', async () => {
    const s = setup({ status: 'ready', progress: 100, tracks: [track] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.all('[data-w]')).toHaveLength(6));
    const transcripts = () => s.fetch.mock.calls.filter(([u]) => String(u).endsWith('/transcript')).length;
    expect(transcripts()).toBe(1);

    // The same state again (our own save, announced back): nothing reloads.
    s.props.live = { status: 'ready', progress: 100, tracks: [track] };
    flushSync();
    expect(s.changes).toHaveLength(0);

    // The owner's edit, seen from another viewer's page.
    const edited: CaptionTrackState = { ...track, current: 'edited', has_edited: true, edited_by: { id: 'u1', name: 'Tess' }, updated_at: '2026-03-01T10:05:00Z' };
    s.props.live = { status: 'ready', progress: 100, tracks: [edited] };
    flushSync();
    expect(s.changes).toHaveLength(1);
    await vi.waitFor(() => expect(transcripts()).toBe(2));
    expect(s.target.textContent).toContain('Tess');
  });

  it('lets the owner make the automatic captions again and says when that cannot work', async () => {
    let answer = new Response(JSON.stringify({ captions: { status: 'pending', progress: 0, tracks: [] } }), {
      status: 202,
      headers: { 'Content-Type': 'application/json' },
    });
    const s = setup(
      { status: 'failed', progress: 0, reason: 'The speech engine failed on this clip (3 tries).', tracks: [] },
      {
        canEdit: true,
        generate: () => {
          if (answer.status === 202) s.setState({ status: 'pending', progress: 0, tracks: [] });
          return answer;
        },
      },
    );
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.button('Make automatic captions again')).toBeTruthy());
    s.button('Make automatic captions again')!.click();
    await vi.waitFor(() => expect(s.target.textContent).toContain('Automatic captions are queued again.'));
    expect(s.q('[role="progressbar"]')).not.toBeNull();
    expect(s.button('Make automatic captions again')).toBeUndefined(); // not while it is under way

    // A refusal is shown as the server words it.
    s.props.live = { status: 'none', progress: 0, reason: 'Automatic captions are switched off on this server.', tracks: [] };
    flushSync();
    answer = new Response(JSON.stringify({ error: { code: 'captions_unavailable', message: 'automatic captions are switched off on this server' } }), {
      status: 409,
      headers: { 'Content-Type': 'application/json' },
    });
    s.button('Make automatic captions again')!.click();
    await vi.waitFor(() => expect(s.q('[role="alert"]')?.textContent).toMatch(/captions are switched off on this server/));
  });

  it('offers no new captions to a viewer who cannot edit', async () => {
    const s = setup({ status: 'failed', progress: 0, tracks: [] });
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.target.textContent).toContain('Automatic captions failed.'));
    expect(s.button('Make automatic captions again')).toBeUndefined();
  });
});
