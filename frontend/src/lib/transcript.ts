// Transcript rules kept out of the components: grouping a word-level
// transcript into readable lines and paragraphs, finding the word being said
// at a playback time, searching within the transcript, highlighting search
// words in a snippet, and the `?t=` address parameter of the review page.
//
// Everything here is a pure function over arrays (or, for seekWhenReady, a
// small subscription), so a 40-minute lesson (about 6,000 words) costs a few
// milliseconds to group and a binary search per time update.

import type { TranscriptWord } from './captionsApi';

/** Line is a run of consecutive words shown (and focusable) as one unit. */
export interface Line {
  /** first and last are indexes into the words array (inclusive). */
  first: number;
  last: number;
  startMs: number;
  endMs: number;
  /** paragraph is true when a long pause comes before the line. */
  paragraph: boolean;
}

/** LineOptions tunes grouping; the defaults read well for classroom speech. */
export interface LineOptions {
  /** maxWords ends a line once it has this many words. */
  maxWords: number;
  /** maxMs ends a line once it spans this long. */
  maxMs: number;
  /** gapMs: a pause at least this long between words starts a new line. */
  gapMs: number;
  /** paragraphGapMs: a pause at least this long starts a new paragraph. */
  paragraphGapMs: number;
  /** minWords: a sentence end only closes a line that has this many words. */
  minWords: number;
}

export const DEFAULT_LINE_OPTIONS: LineOptions = {
  maxWords: 16,
  maxMs: 9000,
  gapMs: 1200,
  paragraphGapMs: 4000,
  minWords: 4,
};

const SENTENCE_END = /[.!?…]["'”’)\]]*$/;

/**
 * groupLines cuts words (in time order) into lines: a new line starts after a
 * pause, after a sentence end (once the line is long enough), or when the
 * line is full. A long pause also starts a paragraph.
 */
export function groupLines(words: readonly TranscriptWord[], opts: Partial<LineOptions> = {}): Line[] {
  const o = { ...DEFAULT_LINE_OPTIONS, ...opts };
  const lines: Line[] = [];
  let cur: Line | null = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (cur) {
      const prev = words[i - 1];
      const gap = w.start_ms - prev.end_ms;
      const count = cur.last - cur.first + 1;
      const breakHere =
        gap >= o.gapMs ||
        count >= o.maxWords ||
        w.end_ms - cur.startMs > o.maxMs ||
        (count >= o.minWords && SENTENCE_END.test(prev.text));
      if (!breakHere) {
        cur.last = i;
        cur.endMs = Math.max(cur.endMs, w.end_ms);
        continue;
      }
      lines.push(cur);
    }
    const gapBefore: number = cur ? w.start_ms - words[i - 1].end_ms : 0;
    cur = { first: i, last: i, startMs: w.start_ms, endMs: w.end_ms, paragraph: cur !== null && gapBefore >= o.paragraphGapMs };
  }
  if (cur) lines.push(cur);
  return lines;
}

/**
 * lastStartedAt is the index of the last item whose start is at or before
 * ms (binary search over items sorted by start), or -1 when none has started.
 */
export function lastStartedAt<T>(items: readonly T[], ms: number, start: (x: T) => number): number {
  let lo = 0;
  let hi = items.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (start(items[mid]) <= ms) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** HOLD_MS keeps the last word highlighted through a short pause after it. */
export const HOLD_MS = 1500;

/**
 * activeWord is the index of the word being said at ms: the word whose span
 * contains ms, or the word just said when the pause after it is shorter than
 * HOLD_MS; -1 before the first word and in long silences.
 */
export function activeWord(words: readonly TranscriptWord[], ms: number): number {
  const i = lastStartedAt(words, ms, (w) => w.start_ms);
  if (i < 0) return -1;
  return ms < words[i].end_ms + HOLD_MS ? i : -1;
}

/** lineOf is the index of the line that holds word index w (-1 if none). */
export function lineOf(lines: readonly Line[], w: number): number {
  if (w < 0) return -1;
  const i = lastStartedAt(lines, w, (l) => l.first);
  return i >= 0 && w <= lines[i].last ? i : -1;
}

/**
 * fold makes text comparable the way the server's search does: lower case,
 * accents removed, punctuation dropped ("Élève," → "eleve"; "don't" → "dont").
 */
export function fold(s: string): string {
  return s
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLocaleLowerCase('en')
    .replace(/['\u2019]/g, '')
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** Match is a run of words (inclusive indexes) that matches a search. */
export interface Match {
  first: number;
  last: number;
}

/** MAX_MATCHES bounds the matches one search highlights. */
export const MAX_MATCHES = 2000;

/**
 * searchWords finds query in the transcript. One word matches every word
 * that contains it ("ract" finds "fractions"); several words match a phrase
 * of consecutive words, the first ending with the first query word, the
 * middle ones equal, the last starting with the last query word.
 */
export function searchWords(words: readonly TranscriptWord[], query: string, folded?: readonly string[]): Match[] {
  const terms = fold(query).split(' ').filter(Boolean);
  if (terms.length === 0) return [];
  const f = folded ?? words.map((w) => fold(w.text));
  const out: Match[] = [];
  const n = terms.length;
  for (let i = 0; i + n <= f.length && out.length < MAX_MATCHES; i++) {
    if (n === 1) {
      if (f[i].includes(terms[0])) out.push({ first: i, last: i });
      continue;
    }
    let ok = f[i].endsWith(terms[0]) && f[i + n - 1].startsWith(terms[n - 1]);
    for (let k = 1; ok && k < n - 1; k++) ok = f[i + k] === terms[k];
    if (ok) out.push({ first: i, last: i + n - 1 });
  }
  return out;
}

/** stepMatch moves through n matches from current by dir, wrapping around. */
export function stepMatch(current: number, n: number, dir: 1 | -1): number {
  if (n <= 0) return -1;
  if (current < 0) return dir === 1 ? 0 : n - 1;
  return (current + dir + n) % n;
}

/**
 * matchFrom is the first match that starts at or after word index w, so a
 * new search begins where the person is in the lesson (0 when none is).
 */
export function matchFrom(matches: readonly Match[], w: number): number {
  if (matches.length === 0) return -1;
  const i = matches.findIndex((m) => m.last >= w);
  return i < 0 ? 0 : i;
}

/** Piece is a part of a text, marked when it matched a search word. */
export interface Piece {
  text: string;
  mark: boolean;
}

/**
 * markTerms splits text into pieces, marking the words that a search for
 * query would find (case and accents ignored), for <mark> highlighting of
 * plain text without HTML.
 */
export function markTerms(text: string, query: string): Piece[] {
  const terms = fold(query).split(' ').filter(Boolean);
  if (terms.length === 0 || !text) return text ? [{ text, mark: false }] : [];
  const pieces: Piece[] = [];
  const re = /[\p{L}\p{N}'\u2019\p{M}]+/gu;
  let at = 0;
  for (const m of text.matchAll(re)) {
    const word = fold(m[0]);
    if (!terms.some((t) => word.includes(t))) continue;
    const start = m.index ?? 0;
    if (start > at) pieces.push({ text: text.slice(at, start), mark: false });
    pieces.push({ text: m[0], mark: true });
    at = start + m[0].length;
  }
  if (at < text.length) pieces.push({ text: text.slice(at), mark: false });
  return pieces;
}

/**
 * parseTimeParam reads the review page's `?t=` value: milliseconds ("2500"),
 * or seconds with a unit ("2.5s", "1m30s"), as media fragments and video
 * sites write them. Anything else is null.
 */
export function parseTimeParam(value: string | null | undefined): number | null {
  if (value == null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
  if (!m || !(m[1] || m[2] || m[3])) return null;
  return Math.round(((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000);
}

/** Seekable is the part of the PlayerController that seekWhenReady uses. */
export interface Seekable {
  subscribe(fn: (s: { ready: boolean }) => void): () => void;
  seek(ms: number): void;
}

/**
 * seekWhenReady seeks player to ms once its media is loaded (at once if it
 * is), one time. It returns a function that cancels the pending seek.
 */
export function seekWhenReady(player: Seekable, ms: number): () => void {
  let done = false;
  let stop: (() => void) | null = null;
  stop = player.subscribe((s) => {
    if (done || !s.ready) return;
    done = true;
    player.seek(ms);
    stop?.();
  });
  if (done) stop();
  return () => {
    done = true;
    stop?.();
  };
}
