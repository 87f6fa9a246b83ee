import { describe, expect, it } from 'vitest';
import type { Growth } from './annotationsApi';
import { maxOf, niceMax, pathOf, seriesOf, ticks, xAt, yAt, type Layout } from './growth';

const g: Growth = {
  user_id: 'u',
  bucket: 'week',
  buckets: [
    { key: 'w1', label: '2026-W01', start: '', clips: 1 },
    { key: 'w2', label: '2026-W02', start: '', clips: 2 },
    { key: 'w3', label: '2026-W03', start: '', clips: 1 },
  ],
  criteria: [
    { key: 'q', title: 'Questioning', points: [{ bucket: 'w1', count: 3, scored: 2, mean_score: 2 }, { bucket: 'w3', count: 1, scored: 1, mean_score: 3 }] },
  ],
};

const L: Layout = { width: 100, height: 60, left: 10, right: 10, top: 5, bottom: 5 };

describe('growth chart', () => {
  it('aligns points to buckets: counts default to 0, scores to missing', () => {
    expect(seriesOf(g, 'count')[0].values).toEqual([3, 0, 1]);
    expect(seriesOf(g, 'score')[0].values).toEqual([2, null, 3]);
    expect(maxOf(seriesOf(g, 'count'))).toBe(3);
  });

  it('rounds axes to readable numbers', () => {
    expect(niceMax(3)).toBe(5);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(0)).toBe(1);
    expect(niceMax(0.3)).toBe(0.5);
    expect(ticks(4)).toEqual([0, 1, 2, 3, 4]);
    expect(ticks(10)).toEqual([0, 5, 10]);
  });

  it('places points and breaks lines at missing values', () => {
    expect(xAt(0, 3, L)).toBe(10);
    expect(xAt(2, 3, L)).toBe(90);
    expect(xAt(0, 1, L)).toBe(50);
    expect(yAt(0, 4, L)).toBe(55);
    expect(yAt(4, 4, L)).toBe(5);
    expect(pathOf([2, null, 3], 4, L)).toBe('M10.0 30.0 M90.0 17.5');
    expect(pathOf([0, 4], 4, L)).toBe('M10.0 55.0 L90.0 5.0');
  });
});
