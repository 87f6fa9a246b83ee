// The upload queue: the files a person picked, each with its title, and
// their progress through a resumable transfer. The queue is plain state and
// rules (one transfer at a time, speed and time left, waiting out a dropped
// network); the transfer itself is injected (tus-js-client in the app, see
// upload-tus.ts), so every rule here is unit tested without a network.
//
// One transfer runs at a time: on school wifi several parallel uploads only
// split the same bandwidth and all finish late, while in sequence the first
// lesson becomes watchable soonest.

import type { FinishedUpload } from './library';

/** UploadStatus is where one file is. */
export type UploadStatus =
  | 'pending' // picked, title editable, not started
  | 'queued' // waiting for the transfer before it
  | 'uploading'
  | 'waiting' // the network dropped; resumes by itself when it is back
  | 'done'
  | 'failed' // needs the person: the message says what to do
  | 'cancelled';

/** UploadItem is one file in the queue, as the UI shows it. */
export interface UploadItem {
  id: string;
  file: File;
  title: string;
  /** groupId shares the clip with a group as soon as it exists ('' = private). */
  groupId: string;
  /** meta is more tus metadata for the server (the consent recorded at upload). */
  meta?: Record<string, string>;
  status: UploadStatus;
  bytesSent: number;
  bytesTotal: number;
  /** bytesPerSecond is a smoothed rate; 0 until measured. */
  bytesPerSecond: number;
  /** secondsLeft is null until a rate is known. */
  secondsLeft: number | null;
  /** resumedFrom is the byte offset an earlier attempt had reached (0 for a fresh upload). */
  resumedFrom: number;
  /** error says what went wrong and what to do, for failed items. */
  error: string;
  /** startedAt and finishedAt are clock times (ms), null until they happen. */
  startedAt: number | null;
  finishedAt: number | null;
}

/** TransferError is how a transfer reports a failure to the queue. */
export interface TransferError {
  /** retriable is true for network trouble and server hiccups. */
  retriable: boolean;
  message: string;
}

/** TransferEvents is what a transfer tells the queue. */
export interface TransferEvents {
  progress(sent: number, total: number): void;
  /** resumed says an earlier, unfinished upload of this file continues at offset. */
  resumed(offset: number): void;
  success(): void;
  error(err: TransferError): void;
}

/** Transfer moves one file; start may be called again after an error to resume. */
export interface Transfer {
  start(): void;
  /** abort stops the transfer; with terminate it also deletes the partial upload. */
  abort(terminate: boolean): Promise<void>;
}

/** TransferFactory makes the transfer for one item. */
export type TransferFactory = (item: Readonly<UploadItem>, events: TransferEvents) => Transfer;

/** Network says whether the browser is online and when it comes back. */
export interface Network {
  online(): boolean;
  /** whenOnline calls fn once on the next "online" event; returns the cancel. */
  whenOnline(fn: () => void): () => void;
}

/** Clock is time and timers; tests drive it by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** QueueOptions configures an UploadQueue. */
export interface QueueOptions {
  transfer: TransferFactory;
  network: Network;
  clock?: Clock;
  /** retryAfterMs is how long to wait before trying again while the browser claims to be online. */
  retryAfterMs?: number;
  /** maxWaits bounds the resume attempts of one file after its transfer gave up. */
  maxWaits?: number;
  /** gaveUp is the message shown once maxWaits is reached. */
  gaveUp: string;
}

type Listener = (items: readonly UploadItem[]) => void;

/** titleFromFilename drops the extension and tidies separators: "lesson_3-final.mp4" → "lesson 3 final". */
export function titleFromFilename(name: string): string {
  const base = name.replace(/\.[^./\\]{1,8}$/, '');
  const tidy = base.replace(/[_]+/g, ' ').replace(/\s+/g, ' ').trim();
  return (tidy || name).slice(0, 200);
}

/** isMediaFile accepts what the picker's accept="video/*,audio/*" means, plus unknown types (the server checks). */
export function isMediaFile(f: { type: string }): boolean {
  return f.type === '' || f.type.startsWith('video/') || f.type.startsWith('audio/') || f.type === 'application/octet-stream';
}

const SMOOTHING = 0.3;
const MIN_SAMPLE_MS = 250;

/**
 * UploadQueue holds the items and runs one transfer at a time. It follows
 * Svelte's store contract. onCompleted runs when a file is fully uploaded
 * (the library then looks for its clip).
 */
export class UploadQueue {
  #items: UploadItem[] = [];
  #listeners = new Set<Listener>();
  #transfers = new Map<string, Transfer>();
  #samples = new Map<string, { at: number; sent: number }>();
  #waits = new Map<string, { count: number; cancel: () => void }>();
  #opts: Required<Omit<QueueOptions, 'clock'>> & { clock: Clock };
  #seq = 0;
  /** onCompleted runs after an item's last byte arrived. */
  onCompleted: ((item: Readonly<UploadItem>) => void) | null = null;

  constructor(opts: QueueOptions) {
    this.#opts = {
      retryAfterMs: 15_000,
      maxWaits: 40,
      ...opts,
      clock: opts.clock ?? {
        now: () => Date.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      },
    };
  }

  /** items is the current list, in the order files were added. */
  get items(): readonly UploadItem[] {
    return this.#items;
  }

  /** finished lists the uploads whose last byte arrived, for the library to look for their clips. */
  get finished(): FinishedUpload[] {
    const out: FinishedUpload[] = [];
    for (const it of this.#items) {
      if (it.status !== 'done' || it.finishedAt === null) continue;
      out.push({ filename: it.file.name, size: it.file.size, startedAt: it.startedAt ?? it.finishedAt, finishedAt: it.finishedAt });
    }
    return out;
  }

  /** active is true while any item is queued, uploading or waiting. */
  get active(): boolean {
    return this.#items.some((i) => i.status === 'queued' || i.status === 'uploading' || i.status === 'waiting');
  }

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    fn(this.#items);
    return () => this.#listeners.delete(fn);
  }

  #emit(): void {
    this.#items = [...this.#items];
    for (const fn of this.#listeners) fn(this.#items);
  }

  #patch(id: string, patch: Partial<UploadItem>): void {
    const i = this.#items.findIndex((it) => it.id === id);
    if (i < 0) return;
    this.#items[i] = { ...this.#items[i], ...patch };
    this.#emit();
  }

  #get(id: string): UploadItem | undefined {
    return this.#items.find((it) => it.id === id);
  }

  /** add puts files in the queue as pending, titled after their names; it returns their ids. */
  add(files: Iterable<File>, groupId = ''): string[] {
    const ids: string[] = [];
    for (const file of files) {
      const id = `u${++this.#seq}`;
      ids.push(id);
      this.#items.push({
        id,
        file,
        title: titleFromFilename(file.name),
        groupId,
        status: 'pending',
        bytesSent: 0,
        bytesTotal: file.size,
        bytesPerSecond: 0,
        secondsLeft: null,
        resumedFrom: 0,
        error: '',
        startedAt: null,
        finishedAt: null,
      });
    }
    this.#emit();
    return ids;
  }

  /** setTitle changes a pending item's title. */
  setTitle(id: string, title: string): void {
    if (this.#get(id)?.status === 'pending') this.#patch(id, { title });
  }

  /** setGroup changes the group of every pending item. */
  setGroup(groupId: string): void {
    let changed = false;
    for (const [i, it] of this.#items.entries()) {
      if (it.status === 'pending') {
        this.#items[i] = { ...it, groupId };
        changed = true;
      }
    }
    if (changed) this.#emit();
  }

  /** setMeta sets the extra metadata (consent) of every pending item. */
  setMeta(meta: Record<string, string>): void {
    let changed = false;
    for (const [i, it] of this.#items.entries()) {
      if (it.status === 'pending') {
        this.#items[i] = { ...it, meta: { ...meta } };
        changed = true;
      }
    }
    if (changed) this.#emit();
  }

  /** startAll queues every pending item (and retries failed ones). */
  startAll(): void {
    for (const [i, it] of this.#items.entries()) {
      if (it.status === 'pending' || it.status === 'failed') {
        this.#items[i] = { ...it, status: 'queued', error: '' };
      }
    }
    this.#emit();
    this.#pump();
  }

  /** retry queues one failed item again; the transfer resumes where it stopped. */
  retry(id: string): void {
    const it = this.#get(id);
    if (it?.status !== 'failed') return;
    this.#waits.delete(id);
    this.#patch(id, { status: 'queued', error: '' });
    this.#pump();
  }

  /** cancel stops an item; a started upload is deleted on the server too. */
  async cancel(id: string): Promise<void> {
    const it = this.#get(id);
    if (!it || it.status === 'done' || it.status === 'cancelled') return;
    this.#stopWaiting(id);
    const tr = this.#transfers.get(id);
    this.#transfers.delete(id);
    this.#patch(id, { status: 'cancelled', bytesPerSecond: 0, secondsLeft: null });
    this.#pump();
    await tr?.abort(true);
  }

  /** remove takes a pending, finished, failed or cancelled item off the list. */
  remove(id: string): void {
    const it = this.#get(id);
    if (!it || it.status === 'queued' || it.status === 'uploading' || it.status === 'waiting') return;
    this.#transfers.delete(id);
    this.#waits.delete(id);
    this.#items = this.#items.filter((x) => x.id !== id);
    this.#emit();
  }

  /** clearFinished removes done and cancelled items. */
  clearFinished(): void {
    const before = this.#items.length;
    this.#items = this.#items.filter((x) => x.status !== 'done' && x.status !== 'cancelled');
    if (this.#items.length !== before) this.#emit();
  }

  #pump(): void {
    if (this.#items.some((i) => i.status === 'uploading' || i.status === 'waiting')) return;
    const next = this.#items.find((i) => i.status === 'queued');
    if (!next) return;
    this.#patch(next.id, { status: 'uploading', startedAt: next.startedAt ?? this.#opts.clock.now() });
    let tr = this.#transfers.get(next.id);
    if (!tr) {
      tr = this.#opts.transfer(next, this.#events(next.id));
      this.#transfers.set(next.id, tr);
    }
    this.#samples.delete(next.id);
    tr.start();
  }

  #events(id: string): TransferEvents {
    // Events from a transfer that was cancelled meanwhile are ignored.
    const live = () => this.#get(id)?.status === 'uploading';
    return {
      progress: (sent, total) => {
        if (!live()) return;
        this.#progress(id, sent, total);
      },
      resumed: (offset) => {
        if (!live()) return;
        this.#patch(id, { resumedFrom: offset, bytesSent: offset });
      },
      success: () => {
        if (!live()) return;
        const it = this.#get(id);
        this.#transfers.delete(id);
        this.#waits.delete(id);
        this.#patch(id, {
          status: 'done',
          bytesSent: it?.bytesTotal ?? 0,
          bytesPerSecond: 0,
          secondsLeft: 0,
          finishedAt: this.#opts.clock.now(),
        });
        const done = this.#get(id);
        if (done) this.onCompleted?.(done);
        this.#pump();
      },
      error: (err) => {
        if (!live()) return;
        if (err.retriable) this.#wait(id);
        else this.#fail(id, err.message);
      },
    };
  }

  #progress(id: string, sent: number, total: number): void {
    const now = this.#opts.clock.now();
    const it = this.#get(id);
    if (!it) return;
    const prev = this.#samples.get(id);
    let rate = it.bytesPerSecond;
    if (!prev) {
      this.#samples.set(id, { at: now, sent });
    } else if (now - prev.at >= MIN_SAMPLE_MS && sent >= prev.sent) {
      const instant = ((sent - prev.sent) * 1000) / (now - prev.at);
      rate = rate > 0 ? rate + SMOOTHING * (instant - rate) : instant;
      this.#samples.set(id, { at: now, sent });
    }
    const left = Math.max(0, total - sent);
    this.#patch(id, {
      bytesSent: sent,
      bytesTotal: total,
      bytesPerSecond: rate,
      secondsLeft: rate > 0 ? Math.ceil(left / rate) : null,
    });
  }

  // The transfer gave up on its own retries: wait for the network (or a
  // while, when the browser does not know it is offline) and resume.
  #wait(id: string): void {
    const w = this.#waits.get(id) ?? { count: 0, cancel: () => {} };
    if (w.count >= this.#opts.maxWaits) {
      this.#fail(id, this.#opts.gaveUp);
      return;
    }
    w.count++;
    this.#patch(id, { status: 'waiting', bytesPerSecond: 0, secondsLeft: null });
    let fired = false;
    const resume = () => {
      if (fired) return;
      fired = true;
      w.cancel();
      if (this.#get(id)?.status !== 'waiting') return;
      this.#patch(id, { status: 'uploading' });
      this.#samples.delete(id);
      this.#transfers.get(id)?.start();
    };
    const { clock, network } = this.#opts;
    const stopOnline = network.whenOnline(resume);
    const timer = network.online() ? clock.setTimeout(resume, this.#opts.retryAfterMs) : null;
    w.cancel = () => {
      stopOnline();
      if (timer !== null) clock.clearTimeout(timer);
    };
    this.#waits.set(id, w);
  }

  #stopWaiting(id: string): void {
    this.#waits.get(id)?.cancel();
    this.#waits.delete(id);
  }

  #fail(id: string, message: string): void {
    this.#stopWaiting(id);
    this.#patch(id, { status: 'failed', error: message, bytesPerSecond: 0, secondsLeft: null });
    this.#pump();
  }

  /** destroy stops every transfer without deleting partial uploads (they can resume later). */
  async destroy(): Promise<void> {
    for (const id of [...this.#waits.keys()]) this.#stopWaiting(id);
    const all = [...this.#transfers.values()];
    this.#transfers.clear();
    this.#listeners.clear();
    await Promise.all(all.map((t) => t.abort(false)));
  }
}

/**
 * DEFAULT_CHUNK_SIZE bounds one PATCH request. tusd keeps the bytes of an
 * interrupted request, so the size only matters for proxies that limit
 * request bodies; 16 MiB passes the common defaults.
 */
export const DEFAULT_CHUNK_SIZE = 16 << 20;

/** CHUNK_OVERRIDE_KEY is the query parameter and localStorage key tests use to shrink chunks. */
export const CHUNK_OVERRIDE_KEY = 'uploadChunk';

/**
 * chunkSizeFrom reads a chunk size override (bytes, at least 1 KiB) from
 * the page's query string or localStorage, so end-to-end tests can cut a small
 * file into several requests and drop the network between two of them.
 */
export function chunkSizeFrom(search: string, stored: string | null): number {
  const raw = new URLSearchParams(search).get(CHUNK_OVERRIDE_KEY) ?? stored;
  const n = raw === null ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 1024 ? n : DEFAULT_CHUNK_SIZE;
}

/** browserNetwork is Network over window's online/offline events. */
export function browserNetwork(w: Window = window): Network {
  return {
    online: () => w.navigator.onLine !== false,
    whenOnline(fn) {
      const once = () => {
        w.removeEventListener('online', once);
        fn();
      };
      w.addEventListener('online', once);
      return () => w.removeEventListener('online', once);
    },
  };
}

/** formatBytes renders a size for people: 812 KB, 1.4 GB (decimal units, like file managers). */
export function formatBytes(n: number): string {
  if (!(n > 0)) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 1;
  return `${v.toFixed(digits).replace(/\.0$/, '')} ${units[i]}`;
}
