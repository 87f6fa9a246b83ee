import { describe, expect, it } from 'vitest';
import {
  applyEvent,
  colorOf,
  criteriaOf,
  currentId,
  emptyDraft,
  fromAnnotation,
  markIn,
  markOut,
  matches,
  NO_FILTERS,
  normalizeRegion,
  parseTags,
  quickCodeIndex,
  toInput,
  UNCODED,
  UNCODED_COLOR,
  upsert,
  validateDraft,
} from './annotations';
import type { Annotation, Rubric } from './annotationsApi';
import type { RoomEvent } from './live';

function ann(id: string, start: number, extra: Partial<Annotation> = {}): Annotation {
  return {
    id,
    clip_id: 'c',
    author: { id: 'u1', name: 'Cora' },
    start_ms: start,
    end_ms: null,
    region: null,
    body: '',
    body_html: '',
    kind: 'note',
    tags: [],
    visibility: 'audience',
    revision: 1,
    reply_count: 0,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...extra,
  };
}

const event = (event: string, data: unknown, seq = 1): RoomEvent => ({ type: 'event', seq, event: event as RoomEvent['event'], at: '', data });

describe('composer draft', () => {
  it('captures the time and marks a range with I and O in either order', () => {
    let d = emptyDraft(12_345.6);
    expect(d.startMs).toBe(12_346);
    expect(d.endMs).toBeNull();
    d = markOut(d, 20_000);
    expect([d.startMs, d.endMs]).toEqual([12_346, 20_000]);
    d = markIn(d, 15_000);
    expect([d.startMs, d.endMs]).toEqual([15_000, 20_000]);
    // I past the end drops the end instead of inverting the range.
    d = markIn(d, 25_000);
    expect([d.startMs, d.endMs]).toEqual([25_000, null]);
    // O before I swaps them.
    d = markOut(d, 21_000);
    expect([d.startMs, d.endMs]).toEqual([21_000, 25_000]);
    // O at the start makes it a moment again.
    d = markOut(markIn(d, 21_000), 21_000);
    expect(d.endMs).toBeNull();
    expect(markIn(d, -50).startMs).toBe(0);
  });

  it.each([
    ['an empty note', {}, 60_000, { body: 'empty' }],
    ['a criterion alone is enough', { criterion: 'wait' }, 60_000, {}],
    ['a body alone is enough', { body: 'Nice' }, 60_000, {}],
    ['start past the end of the clip', { body: 'x', startMs: 70_000 }, 60_000, { start: 'startPastEnd' }],
    ['end past the end of the clip', { body: 'x', startMs: 50_000, endMs: 61_000 }, 60_000, { end: 'endPastClip' }],
    ['unknown length allows any time', { body: 'x', startMs: 70_000, endMs: 80_000 }, 0, {}],
    ['end before start', { body: 'x', startMs: 5000, endMs: 5000 }, 60_000, { end: 'endBeforeStart' }],
    ['too long', { body: 'x'.repeat(10_001) }, 60_000, { body: 'bodyTooLong' }],
    ['10,000 characters is fine', { body: 'é'.repeat(10_000) }, 60_000, {}],
    ['too many tags', { body: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`).join(',') }, 60_000, { tags: 'tooManyTags' }],
    ['a long tag', { body: 'x', tags: 'a'.repeat(41) }, 60_000, { tags: 'tagTooLong' }],
    ['level without criterion', { body: 'x', level: 'proficient' }, 60_000, { level: 'levelWithoutCriterion' }],
  ])('validates %s', (_name, patch, duration, want) => {
    expect(validateDraft({ ...emptyDraft(0), ...patch }, duration)).toEqual(want);
  });

  it('builds the create request', () => {
    const d = { ...markOut(emptyDraft(1000), 4000), body: 'Good **wait**', kind: 'strength' as const, criterion: 'wait', level: 'pro', tags: 'Wait, pause; wait', region: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 } };
    expect(toInput(d, 'k1')).toEqual({
      start_ms: 1000,
      end_ms: 4000,
      region: { x: 0.1, y: 0.2, w: 0.3, h: 0.4 },
      body: 'Good **wait**',
      kind: 'strength',
      visibility: 'audience',
      tags: ['wait', 'pause'],
      criterion: 'wait',
      level: 'pro',
      idempotency_key: 'k1',
    });
    expect(toInput({ ...emptyDraft(5), criterion: '', level: 'x', body: 'b' })).toEqual({ start_ms: 5, kind: 'note', visibility: 'audience', body: 'b' });
    expect(fromAnnotation(ann('a', 7, { tags: ['x', 'y'], criterion: 'q' }))).toMatchObject({ startMs: 7, tags: 'x, y', criterion: 'q', level: '' });
  });

  it('parses tags and normalizes a drawn region', () => {
    expect(parseTags(' A ,b;;a, ')).toEqual(['a', 'b']);
    expect(normalizeRegion(0.6, 0.7, 0.2, 0.1)).toEqual({ x: 0.2, y: 0.1, w: 0.4, h: 0.6 });
    expect(normalizeRegion(-0.2, 0.5, 1.4, 0.9)).toEqual({ x: 0, y: 0.5, w: 1, h: 0.4 });
    expect(normalizeRegion(0.5, 0.5, 0.505, 0.9)).toBeNull();
  });
});

describe('annotation list', () => {
  it('keeps playback order as annotations arrive and ignores stale revisions', () => {
    let l = upsert([], ann('b', 5000));
    l = upsert(l, ann('a', 1000));
    l = upsert(l, ann('c', 5000));
    expect(l.map((a) => a.id)).toEqual(['a', 'b', 'c']);
    l = upsert(l, ann('b', 500, { revision: 2, updated_at: '2026-01-02T00:00:00Z' }));
    expect(l.map((a) => a.id)).toEqual(['b', 'a', 'c']);
    l = upsert(l, ann('b', 9000, { revision: 1 }));
    expect(l[0].start_ms).toBe(500);
  });

  it('finds the current annotation at the playhead', () => {
    const l = [ann('a', 1000), ann('r', 2000, { end_ms: 30_000 }), ann('b', 10_000)];
    expect(currentId(l, 0)).toBeNull();
    expect(currentId(l, 1500)).toBe('a');
    expect(currentId(l, 9000)).toBe('r'); // inside the range after a's moment ended
    expect(currentId(l, 11_000)).toBe('b');
    expect(currentId(l, 20_000)).toBe('r');
    expect(currentId(l, 40_000)).toBeNull();
  });

  it('applies live events as seen by one person', () => {
    let l = [ann('a', 1000)];
    let c = applyEvent(l, event('annotation.created', ann('x', 500, { author: { id: 'u2', name: 'Pat' } })), 'u1');
    expect(c.fresh).toBe('x');
    l = c.list;
    expect(l.map((a) => a.id)).toEqual(['x', 'a']);
    // My own annotation coming back is not "fresh".
    expect(applyEvent(l, event('annotation.created', ann('m', 1)), 'u1').fresh).toBeUndefined();
    // Someone's annotation turned private leaves my list.
    c = applyEvent(l, event('annotation.updated', ann('x', 500, { visibility: 'private', author: { id: 'u2', name: 'Pat' }, revision: 2 })), 'u1');
    expect(c.list.map((a) => a.id)).toEqual(['a']);
    c = applyEvent(l, event('annotation.deleted', ann('a', 1000, { deleted_at: '2026' })), 'u1');
    expect(c.list.map((a) => a.id)).toEqual(['x']);
    c = applyEvent(l, event('reply.created', { id: 'r1', annotation_id: 'a' }), 'u1');
    expect(c.list.find((a) => a.id === 'a')?.reply_count).toBe(1);
    expect(applyEvent(l, event('sync.play', { active: true }), 'u1').list).toEqual(l);
  });

  it('filters by criterion, author, visibility and kind', () => {
    const a = ann('a', 0, { criterion: 'wait', kind: 'strength', visibility: 'private' });
    expect(matches(a, NO_FILTERS)).toBe(true);
    expect(matches(a, { ...NO_FILTERS, criterion: 'wait' })).toBe(true);
    expect(matches(a, { ...NO_FILTERS, criterion: 'other' })).toBe(false);
    expect(matches(a, { ...NO_FILTERS, criterion: UNCODED })).toBe(false);
    expect(matches(ann('b', 0), { ...NO_FILTERS, criterion: UNCODED })).toBe(true);
    expect(matches(a, { ...NO_FILTERS, author: 'u2' })).toBe(false);
    expect(matches(a, { ...NO_FILTERS, visibility: 'audience' })).toBe(false);
    expect(matches(a, { ...NO_FILTERS, kind: 'strength' })).toBe(true);
  });
});

describe('criteria', () => {
  const rubric = {
    domains: [
      { key: 'd1', title: 'D1', criteria: [{ key: 'a', title: 'A', levels: [] }, { key: 'b', title: 'B', levels: [] }] },
      { key: 'd2', title: 'D2', criteria: [{ key: 'c', title: 'C', levels: [] }] },
    ],
  } as unknown as Rubric;

  it('numbers criteria across domains for keys 1–9 and colours them', () => {
    const cs = criteriaOf(rubric);
    expect(cs.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(quickCodeIndex('3', cs.length)).toBe(2);
    expect(quickCodeIndex('4', cs.length)).toBe(-1);
    expect(quickCodeIndex('0', cs.length)).toBe(-1);
    expect(quickCodeIndex('k', cs.length)).toBe(-1);
    expect(colorOf(cs, 'a')).not.toBe(colorOf(cs, 'b'));
    expect(colorOf(cs, undefined)).toBe(UNCODED_COLOR);
    expect(colorOf(cs, 'zzz')).toBe(UNCODED_COLOR);
  });
});
