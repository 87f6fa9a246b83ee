// Library rules kept out of the components: which clips are still being
// processed (and so are polled), search and sort, who may delete, the words
// for statuses and failures, and how long to keep looking for a clip whose
// upload just finished.

import type { Clip, ClipStatus, User } from './api';
import { t, type MessageKey } from './i18n';

/** POLL_MS is how often the library asks for news while clips are processed. */
export const POLL_MS = 2000;

/**
 * ARRIVAL_WINDOW_MS bounds how long the library looks for the clip of a
 * finished upload: the server hashes and stores the file first, which takes
 * seconds, not minutes.
 */
export const ARRIVAL_WINDOW_MS = 3 * 60_000;

const PROCESSING: ReadonlySet<ClipStatus> = new Set(['uploading', 'probing', 'transcoding', 'captioning']);

/** isProcessing is true while the server is still working on a clip. */
export function isProcessing(s: ClipStatus): boolean {
  return PROCESSING.has(s);
}

/**
 * captionsBusy is true while a playable clip's automatic captions are
 * queued or being made: the library shows their progress and keeps asking.
 */
export function captionsBusy(c: Pick<Clip, 'status' | 'caption_status'>): boolean {
  return c.status === 'ready' && (c.caption_status === 'pending' || c.caption_status === 'running');
}

/**
 * ladderBusy is true while a playable clip's other qualities are still
 * being made: the library and the review page keep asking, and the player
 * switches to the full set when it is done.
 */
export function ladderBusy(c: Pick<Clip, 'status' | 'ladder'>): boolean {
  return c.status === 'ready' && c.ladder?.state === 'pending';
}

/** statusLabel is the word shown on a clip's badge. */
export function statusLabel(s: ClipStatus): string {
  return t(`library.status.${s}` as MessageKey);
}

// Codes whose fix is a different file (see media/transcode/validate.go).
const FILE_PROBLEMS = new Set([
  'empty',
  'not_media',
  'truncated',
  'no_streams',
  'too_short',
  'too_long',
  'too_large',
  'too_small',
  'too_many_streams',
]);

/** failureAdvice says what to do next about a failed clip, by failure code. */
export function failureAdvice(code: string | undefined): string {
  if (code && FILE_PROBLEMS.has(code)) return t('library.advice.file');
  return t('library.advice.server');
}

/** SortOrder is how the library lists clips. */
export type SortOrder = 'newest' | 'oldest' | 'title';

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

/**
 * filterAndSort keeps the clips whose title (or owner's name) contains every
 * word of query, ignoring case and accents, and orders them.
 */
export function filterAndSort(clips: readonly Clip[], query: string, order: SortOrder): Clip[] {
  const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('en');
  const words = fold(query).split(/\s+/).filter(Boolean);
  const out = clips.filter((c) => {
    if (words.length === 0) return true;
    const hay = fold(`${c.title} ${c.owner.name}`);
    return words.every((w) => hay.includes(w));
  });
  const time = (c: Clip) => Date.parse(c.created_at) || 0;
  switch (order) {
    case 'title':
      out.sort((a, b) => collator.compare(a.title, b.title) || time(b) - time(a));
      break;
    case 'oldest':
      out.sort((a, b) => time(a) - time(b) || a.id.localeCompare(b.id));
      break;
    default:
      out.sort((a, b) => time(b) - time(a) || b.id.localeCompare(a.id));
  }
  return out;
}

/**
 * canDelete mirrors the server's rule (owner, or a site administrator). List
 * answers carry no my_access, so the library decides from the owner; the
 * server has the final word.
 */
export function canDelete(clip: Clip, user: User | null): boolean {
  if (!user) return false;
  if (clip.my_access) return clip.my_access.includes('delete');
  return clip.owner.id === user.id || user.admin;
}

/** FinishedUpload is what the library knows about an upload whose last byte arrived. */
export interface FinishedUpload {
  filename: string;
  size: number;
  startedAt: number;
  finishedAt: number;
}

// Server and browser clocks may disagree; a clip made up to this long
// "before" the upload started still counts as its clip.
const CLOCK_SLACK_MS = 10 * 60_000;

/**
 * awaitingClips counts finished uploads (of the last ARRIVAL_WINDOW_MS) whose
 * clip is not in `mine` yet, matched by file name and size, so the library
 * keeps polling until they appear.
 */
export function awaitingClips(uploads: readonly FinishedUpload[], mine: readonly Clip[], now: number): number {
  let n = 0;
  for (const u of uploads) {
    if (now - u.finishedAt > ARRIVAL_WINDOW_MS) continue;
    const found = mine.some(
      (c) =>
        c.filename === u.filename.trim() &&
        c.size_bytes === u.size &&
        (Date.parse(c.created_at) || 0) >= u.startedAt - CLOCK_SLACK_MS,
    );
    if (!found) n++;
  }
  return n;
}
