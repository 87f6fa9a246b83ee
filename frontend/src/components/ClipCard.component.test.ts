// The library's clip card mounted for real (Svelte in happy-dom): a clip
// that plays while its captions are made shows their progress, labelled for
// screen readers; a clip whose captions are done shows none.

import { mount, unmount } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import ClipCard from './ClipCard.svelte';
import type { Clip } from '../lib/api';
import { clipFixture } from '../lib/clipFixture';

function clip(over: Partial<Clip>): Clip {
  return clipFixture({ id: 'c1', title: 'Fractions, period 2', owner: { id: 'u1', name: 'Tess Teacher' }, caption_status: 'ready', ...over });
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function show(c: Clip) {
  const target = document.createElement('ul');
  document.body.append(target);
  const app = mount(ClipCard, { target, props: { clip: c } });
  cleanup = () => {
    unmount(app);
    target.remove();
  };
  return target;
}

describe('ClipCard', () => {
  it.each([
    ['running', 41.6, 'Captioning: 42%', '42', '42 percent captioned'],
    ['pending', 0, 'Captions queued', null, 'Captions queued'],
  ])('shows captions %s with a labelled progress bar', (status, pct, text, now, valueText) => {
    const el = show(clip({ caption_status: status, caption_progress: pct }));
    const bar = el.querySelector('[role="progressbar"]')!;
    expect(bar.getAttribute('aria-label')).toBe('Captions of Fractions, period 2');
    expect(bar.getAttribute('aria-valuenow')).toBe(now);
    expect(bar.getAttribute('aria-valuetext')).toBe(valueText);
    expect(el.textContent).toContain(text);
    expect(el.textContent).toContain('You can watch it now');
    expect(el.querySelector('.badge')?.textContent).toBe('Ready');
  });

  it.each(['ready', 'none', 'failed'])('shows no captions progress when they are %s', (status) => {
    const el = show(clip({ caption_status: status }));
    expect(el.querySelector('[role="progressbar"]')).toBeNull();
  });

  it('shows the preparation, not the captions, while the clip is transcoded', () => {
    const el = show(clip({ status: 'transcoding', progress: 30, caption_status: 'pending' }));
    const bars = el.querySelectorAll('[role="progressbar"]');
    expect(bars).toHaveLength(1);
    expect(bars[0].getAttribute('aria-label')).toBe('Processing of Fractions, period 2');
  });

  it('says why processing stalls when the server gives a notice', () => {
    const notice = 'The worker processing this clip stopped; retrying (1 of 3).';
    const el = show(clip({ status: 'transcoding', progress: 0, notice }));
    expect(el.querySelector('[role="status"]')?.textContent).toBe(notice);
    expect(el.querySelector('p.hint')).toBeNull();
  });

  it('tells the uploader how to fix a failed clip, and others who can', () => {
    const failed = clip({ status: 'failed', failure: { code: 'corrupt', reason: 'The file is damaged.' } });
    const target = document.createElement('ul');
    document.body.append(target);
    const app = mount(ClipCard, { target, props: { clip: failed, ondelete: () => {} } });
    expect(target.textContent).not.toContain('Only Tess Teacher');
    unmount(app);
    target.remove();
    const el = show(failed);
    expect(el.textContent).toContain('The file is damaged.');
    expect(el.textContent).toContain('Only Tess Teacher, who uploaded it, can upload it again.');
  });
});
