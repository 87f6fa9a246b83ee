// Timeline math and data for the review page: time ↔ pixel conversion, the
// thumbnail sprite WebVTT track, waveform peaks and markers. Everything here
// is pure (no DOM), so the Timeline component stays a thin drawing layer and
// the rules are unit tested.
//
// # Markers API (for annotations and anything else drawn on the timeline)
//
//	import { MarkerLayer } from '../lib/timeline';
//	const markers = new MarkerLayer();          // one per review page
//	<Player {controller} {markers} … />         // the Timeline draws them
//	markers.setMarkers([
//	  { id: 'a1', startMs: 12_000, color: '#a61b12', label: 'Wait time' },
//	  { id: 'a2', startMs: 30_000, endMs: 42_500, color: '#0f5c6e', label: 'Group work' },
//	]);
//	markers.onActivate = (m) => openAnnotation(m.id); // click or Enter on a marker
//
// A marker with endMs draws a span, without it a pin. Markers outside the
// clip are clamped to it. setMarkers replaces the whole list (cheap: a render
// is one pass over the list), so callers never diff.

/** TimelineMarker is one thing drawn on the timeline at a moment or span. */
export interface TimelineMarker {
  /** id is stable across setMarkers calls (used as the render key). */
  id: string;
  startMs: number;
  /** endMs makes the marker a span; it must be ≥ startMs to be drawn as one. */
  endMs?: number;
  /** color is any CSS colour; choose one with 3:1 contrast on white. */
  color: string;
  /** label is read by screen readers and shown as the marker's tooltip. */
  label: string;
}

type MarkerListener = (markers: readonly TimelineMarker[]) => void;

/**
 * MarkerLayer holds the markers of one timeline. It follows Svelte's store
 * contract (subscribe returns the unsubscribe), so components read it as
 * `$layer`, and plain code calls setMarkers.
 */
export class MarkerLayer {
  #markers: readonly TimelineMarker[] = [];
  #listeners = new Set<MarkerListener>();
  /** onActivate runs when a person clicks a marker or presses Enter on it. */
  onActivate: ((marker: TimelineMarker) => void) | null = null;

  /** markers is the current list, sorted by start. */
  get markers(): readonly TimelineMarker[] {
    return this.#markers;
  }

  /** setMarkers replaces every marker; the list is copied and sorted by start. */
  setMarkers(markers: readonly TimelineMarker[]): void {
    // Code-unit order for ties (localeCompare is slow over thousands).
    this.#markers = [...markers].sort((a, b) => a.startMs - b.startMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const fn of this.#listeners) fn(this.#markers);
  }

  /** subscribe calls fn now and after every setMarkers. */
  subscribe(fn: MarkerListener): () => void {
    this.#listeners.add(fn);
    fn(this.#markers);
    return () => this.#listeners.delete(fn);
  }
}

/** clamp keeps v within [lo, hi]; NaN becomes lo. */
export function clamp(v: number, lo: number, hi: number): number {
  if (Number.isNaN(v)) return lo;
  return Math.min(hi, Math.max(lo, v));
}

/**
 * timeToX maps a time to a horizontal position in a track `width` pixels
 * wide. A clip of unknown length (0) puts everything at 0.
 */
export function timeToX(ms: number, durationMs: number, width: number): number {
  if (!(durationMs > 0) || !(width > 0)) return 0;
  return (clamp(ms, 0, durationMs) / durationMs) * width;
}

/** xToTime is the inverse of timeToX, clamped to the clip. */
export function xToTime(x: number, durationMs: number, width: number): number {
  if (!(durationMs > 0) || !(width > 0)) return 0;
  return clamp((x / width) * durationMs, 0, durationMs);
}

/** MarkerBox is where a marker is drawn, in pixels from the track's left. */
export interface MarkerBox {
  marker: TimelineMarker;
  left: number;
  /** width is 0 for a pin. */
  width: number;
}

/**
 * MarkerLayout places markers like layoutMarkers, but hands back the same
 * MarkerBox object for a marker object it placed before on a track of the
 * same size. A list of thousands where one marker changed then re-renders
 * one element: keyed rendering compares items by identity.
 */
export class MarkerLayout {
  #boxes = new WeakMap<TimelineMarker, MarkerBox>();
  #durationMs = -1;
  #width = -1;
  #minSpan: number;

  constructor(minSpan = 3) {
    this.#minSpan = minSpan;
  }

  layout(markers: readonly TimelineMarker[], durationMs: number, width: number): MarkerBox[] {
    if (durationMs !== this.#durationMs || width !== this.#width) {
      this.#boxes = new WeakMap();
      this.#durationMs = durationMs;
      this.#width = width;
    }
    return markers.map((m) => {
      let box = this.#boxes.get(m);
      if (!box) {
        box = layoutMarkers([m], durationMs, width, this.#minSpan)[0];
        this.#boxes.set(m, box);
      }
      return box;
    });
  }
}

/** layoutMarkers places markers on a track; spans get at least minSpan px. */
export function layoutMarkers(
  markers: readonly TimelineMarker[],
  durationMs: number,
  width: number,
  minSpan = 3,
): MarkerBox[] {
  return markers.map((marker) => {
    const left = timeToX(marker.startMs, durationMs, width);
    if (marker.endMs === undefined || !(marker.endMs >= marker.startMs)) return { marker, left, width: 0 };
    const right = timeToX(marker.endMs, durationMs, width);
    return { marker, left, width: Math.max(minSpan, right - left) };
  });
}

// ---------------------------------------------------------------------------
// Thumbnail sprite track (WebVTT whose cue text is "sprite.jpg#xywh=x,y,w,h")

/** SpriteCue is one thumbnail: a time range and a rectangle in an image. */
export interface SpriteCue {
  startMs: number;
  endMs: number;
  /** url is absolute when parseSpriteVtt was given a base URL. */
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** parseVttTimestamp reads "hh:mm:ss.ttt" or "mm:ss.ttt" into ms; NaN if malformed. */
export function parseVttTimestamp(s: string): number {
  const m = /^(?:(\d+):)?([0-5]\d):([0-5]\d)\.(\d{3})$/.exec(s.trim());
  if (!m) return NaN;
  const [, h = '0', min, sec, frac] = m;
  return ((Number(h) * 60 + Number(min)) * 60 + Number(sec)) * 1000 + Number(frac);
}

/**
 * parseSpriteVtt reads a thumbnail track. Cue text must be an image URL with
 * a `#xywh=x,y,w,h` media fragment; cues without one are skipped, as are
 * malformed cues (a bad cue never hides the good ones). Relative URLs are
 * resolved against baseUrl (the track's own URL). Cues come back sorted.
 */
export function parseSpriteVtt(text: string, baseUrl?: string): SpriteCue[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  if (!/^WEBVTT(?:[ \t]|$)/.test(lines[0] ?? '')) return [];
  const cues: SpriteCue[] = [];
  for (let i = 1; i < lines.length; i++) {
    const timing = /^\s*(\S+)\s+-->\s+(\S+)/.exec(lines[i]);
    if (!timing) continue;
    const startMs = parseVttTimestamp(timing[1]);
    const endMs = parseVttTimestamp(timing[2]);
    const payload = (lines[i + 1] ?? '').trim();
    i++;
    if (Number.isNaN(startMs) || Number.isNaN(endMs) || endMs < startMs) continue;
    const frag = /^(.*)#xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)$/.exec(payload);
    if (!frag || !frag[1]) continue;
    let url = frag[1];
    if (baseUrl) {
      try {
        url = new URL(url, baseUrl).toString();
      } catch {
        continue;
      }
    }
    const [x, y, w, h] = frag.slice(2, 6).map(Number);
    if (w === 0 || h === 0) continue;
    cues.push({ startMs, endMs, url, x, y, w, h });
  }
  return cues.sort((a, b) => a.startMs - b.startMs);
}

/**
 * cueAt finds the cue showing at ms (start inclusive, end exclusive) by
 * binary search; past the last cue's end it returns the last cue, so hovering
 * at the very end still shows a picture.
 */
export function cueAt(cues: readonly SpriteCue[], ms: number): SpriteCue | null {
  if (cues.length === 0) return null;
  let lo = 0;
  let hi = cues.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (cues[mid].startMs <= ms) lo = mid;
    else hi = mid - 1;
  }
  const c = cues[lo];
  if (ms < c.startMs) return lo === 0 ? c : null;
  if (ms >= c.endMs && lo < cues.length - 1) return null;
  return c;
}

// ---------------------------------------------------------------------------
// Waveform (audiowaveform JSON v2, as written by the server)

/** Waveform is waveform.json: min/max pairs, one pair per samplesPerPixel samples. */
export interface Waveform {
  sampleRate: number;
  samplesPerPixel: number;
  /** bits is 8 or 16: peaks range over ±2^(bits-1). */
  bits: number;
  /** mins and maxs have one entry per waveform pixel. */
  mins: Int16Array;
  maxs: Int16Array;
}

/**
 * parseWaveform checks and unpacks waveform.json. It takes the first channel
 * of multi-channel data and throws on a shape it cannot draw.
 */
export function parseWaveform(json: unknown): Waveform {
  const w = json as Record<string, unknown> | null;
  if (!w || typeof w !== 'object') throw new Error('waveform: not an object');
  const sampleRate = Number(w.sample_rate);
  const samplesPerPixel = Number(w.samples_per_pixel);
  const bits = Number(w.bits ?? 8);
  const channels = Number(w.channels ?? 1);
  const data = w.data;
  if (!(sampleRate > 0) || !(samplesPerPixel > 0)) throw new Error('waveform: bad sample rate or samples per pixel');
  if (bits !== 8 && bits !== 16) throw new Error(`waveform: unsupported bits ${bits}`);
  if (!(channels >= 1) || !Array.isArray(data)) throw new Error('waveform: bad data');
  const stride = 2 * channels;
  const n = Math.floor(data.length / stride);
  const mins = new Int16Array(n);
  const maxs = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    mins[i] = Number(data[i * stride]) || 0;
    maxs[i] = Number(data[i * stride + 1]) || 0;
  }
  return { sampleRate, samplesPerPixel, bits, mins, maxs };
}

/** waveformDurationMs is how long the waveform's data lasts. */
export function waveformDurationMs(w: Waveform): number {
  return (w.mins.length * w.samplesPerPixel * 1000) / w.sampleRate;
}

/** Columns are per-pixel-column peaks normalised to [-1, 1]. */
export interface Columns {
  mins: Float32Array;
  maxs: Float32Array;
}

/**
 * downsample reduces a waveform to `columns` columns spanning durationMs
 * (the clip's length, which may differ slightly from the waveform's). Each
 * column keeps the lowest min and highest max of the peaks it covers, so a
 * short loud moment is never averaged away; a column between two peaks (more
 * columns than peaks) takes the peak under its centre.
 */
export function downsample(w: Waveform, columns: number, durationMs = waveformDurationMs(w)): Columns {
  const cols = Math.max(0, Math.floor(columns));
  const mins = new Float32Array(cols);
  const maxs = new Float32Array(cols);
  const n = w.mins.length;
  if (cols === 0 || n === 0 || !(durationMs > 0)) return { mins, maxs };
  const scale = 2 ** (w.bits - 1);
  const msPerPeak = (w.samplesPerPixel * 1000) / w.sampleRate;
  const msPerCol = durationMs / cols;
  for (let c = 0; c < cols; c++) {
    let from = Math.floor((c * msPerCol) / msPerPeak);
    let to = Math.ceil(((c + 1) * msPerCol) / msPerPeak);
    if (to - from <= 1) {
      from = Math.floor(((c + 0.5) * msPerCol) / msPerPeak);
      to = from + 1;
    }
    from = Math.max(0, from);
    to = Math.min(n, to);
    let lo = 0;
    let hi = 0;
    for (let i = from; i < to; i++) {
      if (w.mins[i] < lo) lo = w.mins[i];
      if (w.maxs[i] > hi) hi = w.maxs[i];
    }
    mins[c] = Math.max(-1, lo / scale);
    maxs[c] = Math.min(1, hi / scale);
  }
  return { mins, maxs };
}

/**
 * waveformGain is the factor that makes the loudest column fill the height,
 * capped at maxGain so near-silence is not blown up into noise.
 */
export function waveformGain(cols: Columns, maxGain = 8): number {
  let peak = 0;
  for (let i = 0; i < cols.mins.length; i++) {
    peak = Math.max(peak, Math.abs(cols.mins[i]), Math.abs(cols.maxs[i]));
  }
  return peak > 0 ? Math.min(maxGain, 1 / peak) : 1;
}

// ---------------------------------------------------------------------------
// Slider semantics

/** clockText renders ms as m:ss (h:mm:ss past an hour), rounding down like players do. */
export function clockText(ms: number): string {
  const total = Math.max(0, Math.floor((Number.isFinite(ms) ? ms : 0) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** SliderKeyStep says how far each key moves the playhead. */
export const SLIDER_STEP_MS = 1_000;
/** SLIDER_PAGE_MS is PageUp/PageDown, and Shift+arrow. */
export const SLIDER_PAGE_MS = 10_000;

/**
 * sliderKeyTarget returns where a key pressed on the timeline slider moves
 * the playhead, or null when the key is not the slider's (so it bubbles).
 */
export function sliderKeyTarget(
  key: string,
  shift: boolean,
  currentMs: number,
  durationMs: number,
): number | null {
  const step = shift ? SLIDER_PAGE_MS : SLIDER_STEP_MS;
  let to: number;
  switch (key) {
    case 'ArrowRight':
    case 'ArrowUp':
      to = currentMs + step;
      break;
    case 'ArrowLeft':
    case 'ArrowDown':
      to = currentMs - step;
      break;
    case 'PageUp':
      to = currentMs + SLIDER_PAGE_MS;
      break;
    case 'PageDown':
      to = currentMs - SLIDER_PAGE_MS;
      break;
    case 'Home':
      to = 0;
      break;
    case 'End':
      to = durationMs;
      break;
    default:
      return null;
  }
  return clamp(to, 0, Math.max(0, durationMs));
}
