// Redaction plans in the web app: the types of the redaction API
// (media/redaction.go), the keyframe interpolation the live preview draws
// with — the same as media/redact's Box.At, checked against the same table
// (media/redact/testdata/interpolation.json) — and the edits the panel
// makes to a draft plan. Positions and sizes are fractions of the picture
// (0–1), times milliseconds.

import type { Api } from './api';

export type BoxKind = 'blur' | 'solid';

/** Keyframe puts a box's top-left corner at x, y at t_ms. */
export interface Keyframe {
  t_ms: number;
  x: number;
  y: number;
}

/** RedactionBox hides a region from start_ms to end_ms; it keeps its size. */
export interface RedactionBox {
  kind: BoxKind;
  start_ms: number;
  end_ms: number;
  w: number;
  h: number;
  keyframes: Keyframe[];
  label?: string;
}

export interface Mute {
  start_ms: number;
  end_ms: number;
}

export interface RedactionPlan {
  boxes: RedactionBox[];
  mutes: Mute[];
}

export type RedactionStatus = '' | 'queued' | 'running' | 'failed';

/** Redaction is GET /clips/:id/redaction. */
export interface Redaction {
  clip_id: string;
  plan: RedactionPlan;
  applied: { plan: RedactionPlan; at: string }[];
  status: RedactionStatus;
  progress: number;
  failure?: string;
  original_until?: string;
  applied_at?: string;
  /** keep_originals_ms is how long the site keeps an unredacted original (0: deleted at once). */
  keep_originals_ms: number;
}

/** Limits the server enforces (media/redact). */
export const MAX_BOXES = 32;
export const MAX_KEYFRAMES = 240;
export const MAX_MUTES = 64;
export const MIN_SIZE = 0.01;

/**
 * boxAt is where the box's top-left corner is at tMs: linear between the
 * keyframes around it, the first keyframe's before it, the last's after.
 */
export function boxAt(box: Pick<RedactionBox, 'keyframes'>, tMs: number): { x: number; y: number } {
  const ks = box.keyframes;
  if (ks.length === 0) return { x: 0, y: 0 };
  if (tMs <= ks[0].t_ms) return { x: ks[0].x, y: ks[0].y };
  for (let i = 1; i < ks.length; i++) {
    if (tMs < ks[i].t_ms) {
      const a = ks[i - 1];
      const c = ks[i];
      const f = (tMs - a.t_ms) / (c.t_ms - a.t_ms);
      return { x: a.x + (c.x - a.x) * f, y: a.y + (c.y - a.y) * f };
    }
  }
  const last = ks[ks.length - 1];
  return { x: last.x, y: last.y };
}

/** isActive says whether the box shows at tMs (both ends included). */
export function isActive(box: Pick<RedactionBox, 'start_ms' | 'end_ms'>, tMs: number): boolean {
  return tMs >= box.start_ms && tMs <= box.end_ms;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const round4 = (v: number) => Math.round(v * 10000) / 10000;

/** newBox is a box in the middle of the picture from tMs for five seconds. */
export function newBox(kind: BoxKind, tMs: number, durationMs: number): RedactionBox {
  const start = clamp(Math.round(tMs), 0, Math.max(0, durationMs - 1));
  const end = Math.min(durationMs, start + 5000);
  return { kind, start_ms: start, end_ms: Math.max(end, Math.min(durationMs, start + 1)), w: 0.2, h: 0.2, keyframes: [{ t_ms: start, x: 0.4, y: 0.4 }] };
}

/**
 * placeAt puts the box's corner at x, y at tMs (kept inside the picture). A
 * box with one keyframe is static, so that keyframe moves; a moving box
 * gets (or updates) a keyframe at tMs.
 */
export function placeAt(box: RedactionBox, tMs: number, x: number, y: number): RedactionBox {
  const p = { x: round4(clamp(x, 0, 1 - box.w)), y: round4(clamp(y, 0, 1 - box.h)) };
  if (box.keyframes.length <= 1) {
    const t = box.keyframes[0]?.t_ms ?? Math.round(tMs);
    return { ...box, keyframes: [{ t_ms: t, ...p }] };
  }
  return withKeyframe(box, { t_ms: Math.round(tMs), ...p });
}

/** withKeyframe adds k, replacing a keyframe at the same time, in time order. */
export function withKeyframe(box: RedactionBox, k: Keyframe): RedactionBox {
  const ks = box.keyframes.filter((o) => o.t_ms !== k.t_ms);
  ks.push(k);
  ks.sort((a, b) => a.t_ms - b.t_ms);
  return { ...box, keyframes: ks };
}

/** addKeyframeAt adds a keyframe at tMs where the box is now: the box can then follow. */
export function addKeyframeAt(box: RedactionBox, tMs: number): RedactionBox {
  const p = boxAt(box, tMs);
  return withKeyframe(box, { t_ms: Math.round(tMs), x: p.x, y: p.y });
}

/** resize changes the box's size, keeping every keyframe inside the picture. */
export function resize(box: RedactionBox, w: number, h: number): RedactionBox {
  const nw = round4(clamp(w, MIN_SIZE, 1));
  const nh = round4(clamp(h, MIN_SIZE, 1));
  return {
    ...box,
    w: nw,
    h: nh,
    keyframes: box.keyframes.map((k) => ({ ...k, x: round4(clamp(k.x, 0, 1 - nw)), y: round4(clamp(k.y, 0, 1 - nh)) })),
  };
}

/** KeyStep is what an arrow key does to the selected box. */
export interface KeyStep {
  dx: number;
  dy: number;
  /** resize: the arrow changes the size instead of the position. */
  resize: boolean;
}

/** keyStep maps an arrow key (Shift: ten times larger; Alt: resize) to a step, or null. */
export function keyStep(e: { key: string; shiftKey?: boolean; altKey?: boolean }): KeyStep | null {
  const step = e.shiftKey ? 0.05 : 0.005;
  const d: Record<string, [number, number]> = {
    ArrowLeft: [-step, 0],
    ArrowRight: [step, 0],
    ArrowUp: [0, -step],
    ArrowDown: [0, step],
  };
  const v = d[e.key];
  if (!v) return null;
  return { dx: v[0], dy: v[1], resize: !!e.altKey };
}

/** applyStep moves or resizes the box at tMs by a key step. */
export function applyStep(box: RedactionBox, tMs: number, s: KeyStep): RedactionBox {
  if (s.resize) return resize(box, box.w + s.dx, box.h + s.dy);
  const p = boxAt(box, tMs);
  return placeAt(box, tMs, p.x + s.dx, p.y + s.dy);
}

/** emptyPlan is a plan with nothing in it. */
export function emptyPlan(): RedactionPlan {
  return { boxes: [], mutes: [] };
}

const seg = (s: string) => encodeURIComponent(s);

/** originalUrl downloads the kept unredacted original (owner only). */
export function originalUrl(clipId: string): string {
  return `/api/v1/clips/${seg(clipId)}/redaction/original`;
}

/** RedactionApi wraps the redaction endpoints of one Api client. */
export class RedactionApi {
  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  async get(clipId: string): Promise<Redaction> {
    return (await this.#api.request<{ redaction: Redaction }>('GET', `/clips/${seg(clipId)}/redaction`)).redaction;
  }

  async save(clipId: string, plan: RedactionPlan): Promise<Redaction> {
    return (await this.#api.request<{ redaction: Redaction }>('PUT', `/clips/${seg(clipId)}/redaction`, plan)).redaction;
  }

  async apply(clipId: string): Promise<Redaction> {
    return (await this.#api.request<{ redaction: Redaction }>('POST', `/clips/${seg(clipId)}/redaction/apply`)).redaction;
  }
}
