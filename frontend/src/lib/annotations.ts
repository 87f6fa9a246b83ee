// The review page's annotation rules, kept pure (no DOM, no fetch) so they
// are unit tested: the list kept in playback order as REST pages and live
// events arrive, which annotation is "current" at the playhead, filters,
// criterion colours and keys, and the composer's draft (time capture, I/O
// range, region, validation, and the request it becomes).

import type { Annotation, AnnotationInput, Kind, Region, Reply, Rubric, RubricCriterion, Visibility } from './annotationsApi';
import type { RoomEvent } from './live';

/** byTime orders annotations as the server does: start, then id. */
export function byTime(a: Annotation, b: Annotation): number {
  return a.start_ms - b.start_ms || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** upsert returns list with ann added or replaced (by id), in playback order. */
export function upsert(list: readonly Annotation[], ann: Annotation): Annotation[] {
  const i = list.findIndex((a) => a.id === ann.id);
  if (i >= 0) {
    // A stale copy (an older revision arriving late) never replaces a newer one.
    if (list[i].revision > ann.revision && list[i].updated_at >= ann.updated_at) return [...list];
    const next = [...list];
    next[i] = { ...ann, replies: ann.replies ?? list[i].replies };
    return next.sort(byTime);
  }
  return [...list, ann].sort(byTime);
}

/** remove returns list without the annotation id. */
export function remove(list: readonly Annotation[], id: string): Annotation[] {
  return list.filter((a) => a.id !== id);
}

/** LiveChange says what one room event did to the list. */
export interface LiveChange {
  list: Annotation[];
  /** fresh is the id of an annotation someone else just created (to highlight). */
  fresh?: string;
}

/**
 * applyEvent folds one live event into the list, as seen by user `me`:
 * others' private notes are dropped (an annotation turned private reaches
 * everyone so they can drop it), deleted ones leave the list, replies bump
 * their annotation's count and thread. Sync events leave the list alone.
 */
export function applyEvent(list: readonly Annotation[], e: RoomEvent, me: string): LiveChange {
  switch (e.event) {
    case 'annotation.created':
    case 'annotation.updated': {
      const ann = e.data as Annotation;
      if (!ann || typeof ann.id !== 'string') return { list: [...list] };
      if (ann.deleted_at || (ann.visibility === 'private' && ann.author.id !== me)) return { list: remove(list, ann.id) };
      const existed = list.some((a) => a.id === ann.id);
      const next = upsert(list, ann);
      return { list: next, fresh: !existed && ann.author.id !== me ? ann.id : undefined };
    }
    case 'annotation.deleted': {
      const ann = e.data as Annotation;
      return { list: ann && typeof ann.id === 'string' ? remove(list, ann.id) : [...list] };
    }
    case 'reply.created':
    case 'reply.updated':
    case 'reply.deleted': {
      const r = e.data as Reply;
      if (!r || typeof r.annotation_id !== 'string') return { list: [...list] };
      return { list: list.map((a) => (a.id === r.annotation_id ? withReply(a, r, e.event === 'reply.created') : a)) };
    }
    default:
      return { list: [...list] };
  }
}

function withReply(a: Annotation, r: Reply, created: boolean): Annotation {
  const replies = a.replies ? [...a.replies] : undefined;
  let count = a.reply_count;
  if (replies) {
    const i = replies.findIndex((x) => x.id === r.id);
    if (i >= 0) replies[i] = r;
    else {
      replies.push(r);
      count = Math.max(count, replies.length);
    }
  } else if (created) {
    count++;
  }
  return { ...a, replies, reply_count: count };
}

/** MOMENT_MS is how long a moment (an annotation without end) counts as current. */
export const MOMENT_MS = 4000;

/**
 * currentId is the annotation the playhead is in: the latest-starting one
 * whose span (a range, or MOMENT_MS after a moment) contains ms. Binary
 * search: the list is in playback order.
 */
export function currentId(list: readonly Annotation[], ms: number): string | null {
  let lo = 0;
  let hi = list.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].start_ms <= ms) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // Walk back over earlier starts: a long range may still contain ms.
  for (let i = last; i >= 0 && i > last - 50; i--) {
    const a = list[i];
    const end = a.end_ms ?? a.start_ms + MOMENT_MS;
    if (ms <= end) return a.id;
  }
  return null;
}

/** Filters narrow the list; empty strings mean "all". */
export interface Filters {
  criterion: string;
  author: string;
  visibility: '' | Visibility;
  kind: '' | Kind;
}

/** NO_FILTERS shows everything. */
export const NO_FILTERS: Filters = { criterion: '', author: '', visibility: '', kind: '' };

/** UNCODED is the criterion filter value for annotations without a criterion. */
export const UNCODED = '-';

/** matches says whether an annotation passes the filters. */
export function matches(a: Annotation, f: Filters): boolean {
  if (f.criterion === UNCODED ? !!a.criterion : f.criterion && a.criterion !== f.criterion) return false;
  if (f.author && a.author.id !== f.author) return false;
  if (f.visibility && a.visibility !== f.visibility) return false;
  if (f.kind && a.kind !== f.kind) return false;
  return true;
}

/** authorsOf lists the distinct authors in the list, by name. */
export function authorsOf(list: readonly Annotation[]): Array<{ id: string; name: string }> {
  const m = new Map<string, string>();
  for (const a of list) m.set(a.author.id, a.author.name);
  return [...m].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

// ---------------------------------------------------------------------------
// Criteria: order, keys 1–9 and colours.

/** criteriaOf flattens a rubric's criteria in domain order (the order keys 1–9 follow). */
export function criteriaOf(r: Rubric | null): RubricCriterion[] {
  return r ? r.domains.flatMap((d) => d.criteria) : [];
}

/**
 * PALETTE holds criterion colours, each with at least 4.5:1 contrast on
 * white (text) and distinct in hue; the 10th criterion on repeats them.
 */
export const PALETTE: readonly string[] = [
  '#0f5c6e', // teal
  '#a61b12', // red
  '#6b3fa0', // violet
  '#1d6535', // green
  '#9a4a00', // brown-orange
  '#1d4ed8', // blue
  '#9d174d', // magenta
  '#4a5462', // slate
  '#7a5b00', // olive
];

/** UNCODED_COLOR draws annotations without a criterion. */
export const UNCODED_COLOR = '#5c6470';

/** colorOf gives a criterion key its colour by its position in the rubric. */
export function colorOf(criteria: readonly RubricCriterion[], key: string | undefined): string {
  if (!key) return UNCODED_COLOR;
  const i = criteria.findIndex((c) => c.key === key);
  return i < 0 ? UNCODED_COLOR : PALETTE[i % PALETTE.length];
}

/** quickCodeIndex maps a key press to a criterion index (keys 1–9), or -1. */
export function quickCodeIndex(key: string, count: number): number {
  if (!/^[1-9]$/.test(key)) return -1;
  const i = Number(key) - 1;
  return i < count ? i : -1;
}

// ---------------------------------------------------------------------------
// Composer draft.

/** Draft is what the composer holds before it is sent. */
export interface Draft {
  startMs: number;
  endMs: number | null;
  region: Region | null;
  body: string;
  kind: Kind;
  criterion: string;
  level: string;
  tags: string;
  visibility: Visibility;
}

/** emptyDraft starts a note at ms. */
export function emptyDraft(ms = 0, visibility: Visibility = 'audience'): Draft {
  return { startMs: Math.max(0, Math.round(ms)), endMs: null, region: null, body: '', kind: 'note', criterion: '', level: '', tags: '', visibility };
}

/**
 * markIn sets the range start (I key) at ms; an end that would now come
 * before it is dropped, so the range is never inverted.
 */
export function markIn(d: Draft, ms: number): Draft {
  const startMs = Math.max(0, Math.round(ms));
  return { ...d, startMs, endMs: d.endMs !== null && d.endMs > startMs ? d.endMs : null };
}

/**
 * markOut sets the range end (O key) at ms. Pressed before the start, it
 * swaps them: people mark the two ends in whichever order they see them.
 * At the start itself it clears the range (a moment).
 */
export function markOut(d: Draft, ms: number): Draft {
  const at = Math.max(0, Math.round(ms));
  if (at > d.startMs) return { ...d, endMs: at };
  if (at < d.startMs) return { ...d, startMs: at, endMs: d.startMs };
  return { ...d, endMs: null };
}

/** parseTags splits "a, b; c" into lower-case tags, deduplicated. */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[,;]/)) {
    const tag = raw.trim().toLowerCase();
    if (tag && !out.includes(tag)) out.push(tag);
  }
  return out;
}

/** DraftErrors maps draft field names to messages (keys of the i18n table's composer section). */
export type DraftErrors = Partial<Record<'start' | 'end' | 'body' | 'tags' | 'level', DraftProblem>>;

/** DraftProblem names one thing wrong with a draft; the component words it. */
export type DraftProblem =
  | 'empty'
  | 'startPastEnd'
  | 'endPastClip'
  | 'endBeforeStart'
  | 'bodyTooLong'
  | 'tooManyTags'
  | 'tagTooLong'
  | 'levelWithoutCriterion';

/** MAX_BODY, MAX_TAGS, MAX_TAG mirror the server's limits. */
export const MAX_BODY = 10_000;
export const MAX_TAGS = 20;
export const MAX_TAG = 40;

/**
 * validateDraft checks a draft the way the server will (durationMs 0:
 * unknown length, only non-negative times). A draft needs a body or a
 * criterion: an empty note helps nobody.
 */
export function validateDraft(d: Draft, durationMs: number): DraftErrors {
  const e: DraftErrors = {};
  if (durationMs > 0 && d.startMs > durationMs) e.start = 'startPastEnd';
  if (d.endMs !== null) {
    if (d.endMs <= d.startMs) e.end = 'endBeforeStart';
    else if (durationMs > 0 && d.endMs > durationMs) e.end = 'endPastClip';
  }
  if ([...d.body].length > MAX_BODY) e.body = 'bodyTooLong';
  else if (!d.body.trim() && !d.criterion) e.body = 'empty';
  const tags = parseTags(d.tags);
  if (tags.length > MAX_TAGS) e.tags = 'tooManyTags';
  else if (tags.some((t) => [...t].length > MAX_TAG)) e.tags = 'tagTooLong';
  if (d.level && !d.criterion) e.level = 'levelWithoutCriterion';
  return e;
}

/** toInput turns a valid draft into the create request. */
export function toInput(d: Draft, idempotencyKey?: string): AnnotationInput {
  const input: AnnotationInput = { start_ms: d.startMs, kind: d.kind, visibility: d.visibility };
  if (d.endMs !== null) input.end_ms = d.endMs;
  if (d.region) input.region = d.region;
  if (d.body.trim()) input.body = d.body;
  const tags = parseTags(d.tags);
  if (tags.length) input.tags = tags;
  if (d.criterion) input.criterion = d.criterion;
  if (d.criterion && d.level) input.level = d.level;
  if (idempotencyKey) input.idempotency_key = idempotencyKey;
  return input;
}

/** fromAnnotation loads an annotation into a draft for editing. */
export function fromAnnotation(a: Annotation): Draft {
  return {
    startMs: a.start_ms,
    endMs: a.end_ms,
    region: a.region,
    body: a.body,
    kind: a.kind,
    criterion: a.criterion ?? '',
    level: a.level ?? '',
    tags: (a.tags ?? []).join(', '),
    visibility: a.visibility,
  };
}

/** normalizeRegion turns two corners in 0..1 into a region, clamped to the frame; null when too small to mean anything. */
export function normalizeRegion(x0: number, y0: number, x1: number, y1: number, minSize = 0.01): Region | null {
  const c = (v: number) => Math.min(1, Math.max(0, v));
  const left = c(Math.min(x0, x1));
  const top = c(Math.min(y0, y1));
  const w = c(Math.max(x0, x1)) - left;
  const h = c(Math.max(y0, y1)) - top;
  if (w < minSize || h < minSize) return null;
  const r = (v: number) => Math.round(v * 1e6) / 1e6;
  return { x: r(left), y: r(top), w: r(Math.min(w, 1 - left)), h: r(Math.min(h, 1 - top)) };
}

/** newKey makes an idempotency key so a retried create never doubles a note. */
export function newKey(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

/** COACH_SHORTCUTS documents the coaching keys for the "?" overlay (i18n keys). */
export const COACH_SHORTCUTS: ReadonlyArray<{ keys: readonly string[]; does: 'shortcut.quickCode' | 'shortcut.markIn' | 'shortcut.markOut' | 'shortcut.newNote' | 'shortcut.point' }> = [
  { keys: ['1–9'], does: 'shortcut.quickCode' },
  { keys: ['I'], does: 'shortcut.markIn' },
  { keys: ['O'], does: 'shortcut.markOut' },
  { keys: ['N'], does: 'shortcut.newNote' },
  { keys: ['P'], does: 'shortcut.point' },
];
