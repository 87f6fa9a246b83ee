import { describe, expect, it } from 'vitest';
import { rowOffsets, visibleRange } from './virtual';

describe('rowOffsets', () => {
  it('adds measured heights and estimates the rest', () => {
    const measured = [50, undefined, 30];
    expect([...rowOffsets(3, (i) => measured[i], 100)]).toEqual([0, 50, 150, 180]);
    expect([...rowOffsets(0, () => 1, 100)]).toEqual([0]);
  });
});

describe('visibleRange', () => {
  const o = rowOffsets(100, () => undefined, 100); // 100 rows of 100 px

  it.each([
    // top, height, overscan → [from, to)
    [0, 250, 0, [0, 3]],
    [0, 250, 100, [0, 4]],
    [1000, 300, 0, [10, 13]],
    [1050, 300, 0, [10, 14]],
    [1000, 300, 200, [8, 15]],
    [9900, 500, 0, [99, 100]],
    [20000, 500, 0, [99, 100]],
    [0, 0, 0, [0, 1]],
  ] as Array<[number, number, number, [number, number]]>)('top %i height %i overscan %i', (top, height, overscan, want) => {
    expect(visibleRange(o, top, height, overscan)).toEqual(want);
  });

  it('handles rows of different heights and no rows', () => {
    const h = [10, 500, 10, 10, 10];
    const off = rowOffsets(5, (i) => h[i], 0);
    expect(visibleRange(off, 100, 50, 0)).toEqual([1, 2]); // inside the tall row
    expect(visibleRange(off, 505, 20, 0)).toEqual([1, 4]);
    expect(visibleRange(rowOffsets(0, () => 1, 1), 0, 100, 0)).toEqual([0, 0]);
  });
});
