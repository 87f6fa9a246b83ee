// Caption editor rules kept out of the component: cue times as people type
// them ("1:02.5"), cue text as people type it (plain text, with WebVTT's
// escapes handled here), client-side checks before a save, and finding the
// cue a server message names ("cue 3 ends at …").

import type { Cue } from './captionsApi';

/**
 * formatCueTime writes ms as m:ss.mmm (h:mm:ss.mmm from an hour on), the
 * way caption editors show cue times.
 */
export function formatCueTime(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  const h = Math.floor(v / 3_600_000);
  const m = Math.floor((v % 3_600_000) / 60_000);
  const s = Math.floor((v % 60_000) / 1000);
  const milli = String(v % 1000).padStart(3, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}.${milli}` : `${m}:${ss}.${milli}`;
}

/**
 * parseCueTime reads "s", "s.mmm", "m:ss(.mmm)", "h:mm:ss(.mmm)" (a comma
 * works as the decimal mark too, as in SubRip) and returns ms, or null.
 */
export function parseCueTime(text: string): number | null {
  const v = text.trim().replace(',', '.');
  const m = /^(?:(?:(\d+):)?(\d+):)?(\d+)(?:\.(\d{1,3}))?$/.exec(v);
  if (!m) return null;
  const [, h, min, s, frac] = m;
  if (min !== undefined && Number(s) >= 60) return null;
  if (h !== undefined && Number(min) >= 60) return null;
  const ms = frac ? Number(frac.padEnd(3, '0')) : 0;
  return ((Number(h ?? 0) * 60 + Number(min ?? 0)) * 60 + Number(s)) * 1000 + ms;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f' };

/** cueTextForEditing turns WebVTT cue text into what a person reads and types. */
export function cueTextForEditing(raw: string): string {
  return raw.replace(/&(amp|lt|gt|nbsp|lrm|rlm);/g, (_, name: string) => ENTITIES[name]);
}

// Tags a person may type and that stay tags: italics, bold, underline and a
// speaker's voice; everything else is escaped so it shows as typed.
const ALLOWED_TAG = /^<(\/?(?:i|b|u)|v(?:\.[\w-]+)*(?: [^<>]*)?|\/v)>/;

/**
 * cueTextForSaving escapes & and < so the text shows as typed, keeping the
 * tags a caption may carry (<i>, <b>, <u>, <v Speaker>). Line endings become
 * \n and blank lines are dropped (a blank line would end the cue in WebVTT).
 */
export function cueTextForSaving(text: string): string {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  let out = '';
  const s = lines.join('\n');
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '&') out += '&amp;';
    else if (c === '<') {
      const tag = ALLOWED_TAG.exec(s.slice(i));
      if (tag) {
        out += tag[0];
        i += tag[0].length - 1;
      } else {
        out += '&lt;';
      }
    } else if (c === '>') out += '&gt;';
    else out += c;
  }
  return out;
}

/** DraftCue is a cue as the editor holds it: times and text as typed. */
export interface DraftCue {
  /** key identifies the row for Svelte; not sent. */
  key: number;
  id?: string;
  settings?: string;
  start: string;
  end: string;
  text: string;
}

let nextKey = 1;

/** toDraft turns stored cues into editor rows. */
export function toDraft(cues: readonly Cue[]): DraftCue[] {
  return cues.map((c) => ({
    key: nextKey++,
    id: c.id,
    settings: c.settings,
    start: formatCueTime(c.start_ms),
    end: formatCueTime(c.end_ms),
    text: cueTextForEditing(c.text),
  }));
}

/** newDraftCue is an empty row starting where the previous one ends. */
export function newDraftCue(afterMs: number, lengthMs = 2000): DraftCue {
  return { key: nextKey++, start: formatCueTime(afterMs), end: formatCueTime(afterMs + lengthMs), text: '' };
}

/** CueProblem is a client-side problem with one row (0-based) and field. */
export interface CueProblem {
  index: number;
  field: 'start' | 'end' | 'text';
  message: string;
}

/** DraftMessages are the texts of client-side problems (from i18n). */
export interface DraftMessages {
  badTime: string;
  endBeforeStart: string;
  emptyText: string;
}

/**
 * fromDraft checks the rows and returns the cues to save, or the problems
 * (times that do not read, an end not after its start, empty text). Order
 * and overlaps are the server's to judge: it names the cue.
 */
export function fromDraft(rows: readonly DraftCue[], msg: DraftMessages): { cues: Cue[]; problems: CueProblem[] } {
  const cues: Cue[] = [];
  const problems: CueProblem[] = [];
  rows.forEach((r, index) => {
    const start = parseCueTime(r.start);
    const end = parseCueTime(r.end);
    if (start === null) problems.push({ index, field: 'start', message: msg.badTime });
    if (end === null) problems.push({ index, field: 'end', message: msg.badTime });
    else if (start !== null && end <= start) problems.push({ index, field: 'end', message: msg.endBeforeStart });
    const text = cueTextForSaving(r.text);
    if (!text) problems.push({ index, field: 'text', message: msg.emptyText });
    const cue: Cue = { start_ms: start ?? 0, end_ms: end ?? 0, text };
    if (r.id) cue.id = r.id;
    if (r.settings) cue.settings = r.settings;
    cues.push(cue);
  });
  return { cues, problems };
}

/**
 * cueNamed finds the cue a server message names ("cue 3 ends at …", 1-based
 * as editors count) and returns its 0-based index, or -1.
 */
export function cueNamed(message: string, count: number): number {
  const m = /\bcue (\d+)\b/i.exec(message);
  if (!m) return -1;
  const i = Number(m[1]) - 1;
  return i >= 0 && i < count ? i : -1;
}
