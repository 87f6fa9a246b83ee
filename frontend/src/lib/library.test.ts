import { describe, expect, it } from 'vitest';
import type { User } from './api';
import { clipFixture } from './clipFixture';
import { ARRIVAL_WINDOW_MS, awaitingClips, canDelete, captionsBusy, failureAdvice, filterAndSort, isProcessing, ladderBusy, statusLabel } from './library';

const clip = clipFixture;

const user = (over: Partial<User> = {}): User => ({ id: 'u1', email: 'tom@school.test', name: 'Tom', admin: false, ...over });

describe('library rules', () => {
  it.each([
    ['uploading', true],
    ['probing', true],
    ['transcoding', true],
    ['captioning', true],
    ['ready', false],
    ['failed', false],
  ] as const)('isProcessing(%s) = %s', (s, want) => {
    expect(isProcessing(s)).toBe(want);
  });

  it('labels statuses', () => {
    expect(statusLabel('transcoding')).toBe('Preparing');
    expect(statusLabel('failed')).toBe('Failed');
  });

  it('advises by failure code', () => {
    expect(failureAdvice('truncated')).toMatch(/upload it again/);
    expect(failureAdvice('processing_failed')).toMatch(/server/);
    expect(failureAdvice(undefined)).toMatch(/server/);
  });

  const list = [
    clip({ id: 'a', title: 'Forces and motion', created_at: '2026-03-01T10:00:00Z' }),
    clip({ id: 'b', title: 'écoute active', created_at: '2026-03-03T10:00:00Z', owner: { id: 'u2', name: 'Cora Coach' } }),
    clip({ id: 'c', title: 'Lesson 10', created_at: '2026-03-02T10:00:00Z' }),
    clip({ id: 'd', title: 'Lesson 9', created_at: '2026-03-02T10:00:00Z' }),
  ];

  it.each([
    { query: '', order: 'newest' as const, want: ['b', 'd', 'c', 'a'] },
    { query: '', order: 'oldest' as const, want: ['a', 'c', 'd', 'b'] },
    { query: '', order: 'title' as const, want: ['b', 'a', 'd', 'c'] },
    { query: 'LESSON', order: 'title' as const, want: ['d', 'c'] },
    { query: 'ecoute', order: 'newest' as const, want: ['b'] },
    { query: 'forces motion', order: 'newest' as const, want: ['a'] },
    { query: 'motion forces', order: 'newest' as const, want: ['a'] },
    { query: 'cora', order: 'newest' as const, want: ['b'] },
    { query: 'nothing', order: 'newest' as const, want: [] },
  ])('filter "$query", sort $order', ({ query, order, want }) => {
    expect(filterAndSort(list, query, order).map((c) => c.id)).toEqual(want);
  });

  it('does not reorder the input', () => {
    const copy = [...list];
    filterAndSort(list, '', 'title');
    expect(list).toEqual(copy);
  });

  it.each([
    { name: 'owner', c: clip({}), u: user(), want: true },
    { name: 'someone else', c: clip({}), u: user({ id: 'u9' }), want: false },
    { name: 'admin', c: clip({}), u: user({ id: 'u9', admin: true }), want: true },
    { name: 'signed out', c: clip({}), u: null, want: false },
    { name: 'my_access wins', c: clip({ my_access: ['view'] }), u: user(), want: false },
  ])('canDelete: $name', ({ c, u, want }) => {
    expect(canDelete(c, u)).toBe(want);
  });
});

describe('awaitingClips', () => {
  const started = Date.parse('2026-03-01T10:00:00Z');
  const up = { filename: 'lesson.mp4', size: 1000, startedAt: started, finishedAt: started + 5000 };

  it.each([
    { name: 'not listed yet', mine: [], now: started + 6000, want: 1 },
    { name: 'listed', mine: [clip({ created_at: '2026-03-01T10:00:06Z' })], now: started + 7000, want: 0 },
    { name: 'same name, other size', mine: [clip({ size_bytes: 999 })], now: started + 7000, want: 1 },
    { name: 'an old clip of the same file', mine: [clip({ created_at: '2026-02-01T10:00:00Z' })], now: started + 7000, want: 1 },
    { name: 'server clock a little behind', mine: [clip({ created_at: '2026-03-01T09:58:00Z' })], now: started + 7000, want: 0 },
    { name: 'gave up looking', mine: [], now: started + 5000 + ARRIVAL_WINDOW_MS + 1, want: 0 },
  ])('$name', ({ mine, now, want }) => {
    expect(awaitingClips([up], mine, now)).toBe(want);
  });
});

describe('captionsBusy', () => {
  it.each([
    ['ready', 'pending', true],
    ['ready', 'running', true],
    ['ready', 'ready', false],
    ['ready', 'none', false],
    ['ready', 'failed', false],
    ['transcoding', 'pending', false], // the preparation is what is shown then
    ['failed', 'pending', false],
  ] as const)('a %s clip with captions %s: %s', (status, captions, want) => {
    expect(captionsBusy(clip({ status, caption_status: captions }))).toBe(want);
  });
});

describe('ladderBusy', () => {
  it.each([
    ['ready', 'pending', true],
    ['captioning', 'pending', false], // the older state name is not used for fast start
    ['ready', 'failed', false],
    ['ready', undefined, false],
    ['transcoding', 'pending', false],
  ] as const)('a %s clip with its ladder %s: %s', (status, state, want) => {
    const ladder = state ? { state, progress: 40, start: 'copy' as const } : undefined;
    expect(ladderBusy(clip({ status, ladder }))).toBe(want);
  });
});
