// Windowed rendering of a long list of rows whose heights differ: only the
// rows near the visible part of a scroll box exist in the DOM, and padding
// above and below stands in for the rest. Heights are measured once a row has
// been drawn and estimated until then; the estimate only moves the scroll bar
// a little, and the browser's scroll anchoring keeps what is read in place.
// Pure math here (unit tested); AnnotationList.svelte does the DOM part.

/**
 * rowOffsets returns n + 1 offsets: offsets[i] is the top of row i, and
 * offsets[n] the height of all rows. heightOf returns a measured height or
 * undefined (then `estimate` is used).
 */
export function rowOffsets(n: number, heightOf: (i: number) => number | undefined, estimate: number): Float64Array {
  const o = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) o[i + 1] = o[i] + (heightOf(i) ?? estimate);
  return o;
}

/**
 * visibleRange returns [from, to): the rows that intersect the band from
 * top − overscan to top + height + overscan, found by binary search.
 */
export function visibleRange(offsets: Float64Array, top: number, height: number, overscan: number): [number, number] {
  const n = offsets.length - 1;
  if (n <= 0) return [0, 0];
  const lo = Math.max(0, top - overscan);
  const hi = top + Math.max(0, height) + overscan;
  // first row whose bottom is below lo
  let a = 0;
  let b = n;
  while (a < b) {
    const m = (a + b) >> 1;
    if (offsets[m + 1] > lo) b = m;
    else a = m + 1;
  }
  const from = Math.min(a, n - 1);
  // first row whose top is at or below hi
  a = from;
  b = n;
  while (a < b) {
    const m = (a + b) >> 1;
    if (offsets[m] >= hi) b = m;
    else a = m + 1;
  }
  return [from, Math.max(from + 1, a)];
}
