// The caption editor mounted for real (Svelte in happy-dom) against a fake
// captions API: when the track changes on the server (the automatic
// captions job finished, announced in the live room) it reloads its cues,
// unless the owner has unsaved edits, which it keeps.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CaptionEditor from './CaptionEditor.svelte';
import { reactiveProps } from './reactiveProps.svelte';
import { Api } from '../lib/api';
import { CaptionsApi, type CaptionTrackState } from '../lib/captionsApi';
import type { PlayerController } from '../lib/player';

const track: CaptionTrackState = {
  lang: 'en',
  label: 'English',
  current: 'edited',
  has_machine: true,
  has_edited: true,
  engine: 'pocketsphinx',
  cues: 1,
  path: 'captions/en.edited.vtt',
  created_at: '2026-03-01T10:00:00Z',
  updated_at: '2026-03-01T10:00:00Z',
};

function setup() {
  const fetch = vi.fn(async () =>
    new Response(JSON.stringify({ lang: 'en', version: 'edited', track, cues: [{ start_ms: 1000, end_ms: 2500, text: 'Who can count to three?' }] }), {
      status: 200,
      headers: { 'Content-Type': 'application/json' },
    }),
  );
  const controller = { state: { currentMs: 0, durationMs: 60_000, ready: true }, subscribe: () => () => {}, seek: () => {} } as unknown as PlayerController;
  const target = document.createElement('div');
  document.body.append(target);
  const props = reactiveProps({
    clipId: 'c1',
    durationMs: 60_000,
    track: track as CaptionTrackState | null,
    controller,
    captions: new CaptionsApi(new Api({ fetch, cookies: () => '' })),
    onchanged: () => {},
  });
  const app = mount(CaptionEditor, { target, props });
  const text = () => target.querySelector<HTMLTextAreaElement | HTMLInputElement>('[id*="-text-"]');
  return { target, props, fetch, text, cleanup: () => (unmount(app), target.remove()) };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

describe('CaptionEditor', () => {
  it('reloads the cues when the track changes on the server and nothing is being edited', async () => {
    const s = setup();
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.text()?.value).toBe('Who can count to three?'));
    s.props.track = { ...track, updated_at: '2026-03-01T10:05:00Z' };
    flushSync();
    await vi.waitFor(() => expect(s.fetch).toHaveBeenCalledTimes(2));
  });

  it('keeps unsaved edits when the track changes on the server, and says so', async () => {
    const s = setup();
    cleanup = s.cleanup;
    await vi.waitFor(() => expect(s.text()?.value).toBe('Who can count to three?'));
    const field = s.text()!;
    field.value = 'Who can count to three? Everyone!';
    field.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    s.props.track = { ...track, updated_at: '2026-03-01T10:05:00Z' };
    flushSync();
    expect(s.fetch).toHaveBeenCalledTimes(1);
    expect(s.text()?.value).toBe('Who can count to three? Everyone!');
    expect(s.target.textContent).toContain('These captions changed on the server while you were editing.');
  });
});
