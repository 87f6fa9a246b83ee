// Growth chart geometry: turns the growth API's buckets and per-criterion
// points into SVG polylines and axis ticks for a small hand-rolled chart
// (no chart library: a few criteria over a few dozen buckets). Pure, so the
// scales are unit tested; Growth.svelte draws what this returns.

import type { Growth } from './annotationsApi';

/** Metric is what the chart plots per criterion and bucket. */
export type Metric = 'count' | 'score';

/** Series is one criterion's line: points at bucket indexes (null: no value there). */
export interface Series {
  key: string;
  title: string;
  values: Array<number | null>;
}

/** seriesOf aligns each criterion's points to the bucket order. */
export function seriesOf(g: Growth, metric: Metric): Series[] {
  const index = new Map(g.buckets.map((b, i) => [b.key, i]));
  return g.criteria.map((c) => {
    const values: Array<number | null> = g.buckets.map(() => (metric === 'count' ? 0 : null));
    for (const p of c.points) {
      const i = index.get(p.bucket);
      if (i === undefined) continue;
      values[i] = metric === 'count' ? p.count : p.mean_score;
    }
    return { key: c.key, title: c.title, values };
  });
}

/** niceMax rounds a maximum up to 1, 2 or 5 × 10^n so ticks read well. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** ticks returns evenly spaced values from 0 to max (inclusive), about `count` of them. */
export function ticks(max: number, count = 4): number[] {
  const step = niceMax(max / count);
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Math.round(v * 1000) / 1000);
  return out;
}

/** Layout is where the plot area sits in the SVG viewBox. */
export interface Layout {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** x places bucket i of n across the plot (one bucket: the middle). */
export function xAt(i: number, n: number, l: Layout): number {
  const w = l.width - l.left - l.right;
  return n <= 1 ? l.left + w / 2 : l.left + (i / (n - 1)) * w;
}

/** y places value v on a 0..max axis. */
export function yAt(v: number, max: number, l: Layout): number {
  const h = l.height - l.top - l.bottom;
  return l.top + h - (max > 0 ? (v / max) * h : 0);
}

/**
 * paths turns a series into SVG path data, breaking the line where a value
 * is missing (a bucket where the criterion was not scored).
 */
export function pathOf(values: ReadonlyArray<number | null>, max: number, l: Layout): string {
  let d = '';
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) {
      pen = false;
      return;
    }
    const x = xAt(i, values.length, l).toFixed(1);
    const y = yAt(v, max, l).toFixed(1);
    d += `${pen ? 'L' : 'M'}${x} ${y} `;
    pen = true;
  });
  return d.trim();
}

/** maxOf is the largest value of all series (0 when there is none). */
export function maxOf(series: readonly Series[]): number {
  let m = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > m) m = v;
  return m;
}
