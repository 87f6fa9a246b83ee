import { describe, expect, it } from 'vitest';
import {
  chunkSizeFrom,
  DEFAULT_CHUNK_SIZE,
  formatBytes,
  isMediaFile,
  titleFromFilename,
  UploadQueue,
  type Clock,
  type Network,
  type TransferEvents,
  type UploadItem,
} from './upload';

/** A transfer driven by the test: it records calls and exposes its events. */
class ScriptedTransfer {
  starts = 0;
  aborted: boolean[] = [];
  constructor(
    readonly item: Readonly<UploadItem>,
    readonly ev: TransferEvents,
  ) {}
  start() {
    this.starts++;
  }
  async abort(terminate: boolean) {
    this.aborted.push(terminate);
  }
}

function setup({ online = true, maxWaits = 3 } = {}) {
  let now = 1_000_000;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextTimer = 1;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = nextTimer++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => timers.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers]) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  const onlineFns = new Set<() => void>();
  const net = { online };
  const network: Network = {
    online: () => net.online,
    whenOnline: (fn) => {
      onlineFns.add(fn);
      return () => onlineFns.delete(fn);
    },
  };
  const goOnline = () => {
    net.online = true;
    for (const fn of [...onlineFns]) fn();
  };
  const transfers: ScriptedTransfer[] = [];
  const q = new UploadQueue({
    transfer: (item, ev) => {
      const tr = new ScriptedTransfer(item, ev);
      transfers.push(tr);
      return tr;
    },
    network,
    clock,
    retryAfterMs: 15_000,
    maxWaits,
    gaveUp: 'gave up',
  });
  const completed: string[] = [];
  q.onCompleted = (it) => completed.push(it.id);
  return { q, transfers, advance, net, goOnline, onlineFns, timers, completed, tick: (ms: number) => (now += ms) };
}

const file = (name: string, size = 1000, type = 'video/mp4') => new File([new Uint8Array(size)], name, { type });

describe('UploadQueue', () => {
  it('adds files as pending with titles from their names and the chosen group', () => {
    const { q } = setup();
    const ids = q.add([file('lesson_3-final.mp4'), file('b.mov')], 'g1');
    expect(ids).toHaveLength(2);
    expect(q.items.map((i) => [i.title, i.status, i.groupId, i.bytesTotal])).toEqual([
      ['lesson 3-final', 'pending', 'g1', 1000],
      ['b', 'pending', 'g1', 1000],
    ]);
    q.setTitle(ids[0], 'Forces, period 2');
    q.setGroup('');
    expect(q.items[0].title).toBe('Forces, period 2');
    expect(q.items.every((i) => i.groupId === '')).toBe(true);
  });

  it('runs one transfer at a time, in order, and reports completion', () => {
    const { q, transfers, completed } = setup();
    const [a, b] = q.add([file('a.mp4'), file('b.mp4')]);
    q.startAll();
    expect(q.items.map((i) => i.status)).toEqual(['uploading', 'queued']);
    expect(transfers).toHaveLength(1);
    expect(transfers[0].item.title).toBe('a');
    transfers[0].ev.success();
    expect(q.items.map((i) => i.status)).toEqual(['done', 'uploading']);
    expect(q.items[0].bytesSent).toBe(1000);
    expect(q.items[0].finishedAt).not.toBeNull();
    transfers[1].ev.success();
    expect(completed).toEqual([a, b]);
    expect(q.active).toBe(false);
    expect(q.finished.map((f) => f.filename)).toEqual(['a.mp4', 'b.mp4']);
  });

  it('titles cannot change once an upload started', () => {
    const { q } = setup();
    const [id] = q.add([file('a.mp4')]);
    q.startAll();
    q.setTitle(id, 'late');
    expect(q.items[0].title).toBe('a');
  });

  it('measures a smoothed speed and the time left', () => {
    const { q, transfers, tick } = setup();
    q.add([file('a.mp4', 10_000_000)]);
    q.startAll();
    const ev = transfers[0].ev;
    ev.progress(0, 10_000_000);
    tick(1000);
    ev.progress(1_000_000, 10_000_000);
    expect(q.items[0].bytesPerSecond).toBe(1_000_000);
    expect(q.items[0].secondsLeft).toBe(9);
    tick(1000);
    ev.progress(3_000_000, 10_000_000); // 2 MB/s now: smoothed 1 + 0.3 × (2 − 1)
    expect(q.items[0].bytesPerSecond).toBeCloseTo(1_300_000);
    expect(q.items[0].secondsLeft).toBe(Math.ceil(7_000_000 / 1_300_000));
    // Samples closer than 250 ms update the bytes but not the rate.
    tick(100);
    ev.progress(3_500_000, 10_000_000);
    expect(q.items[0].bytesPerSecond).toBeCloseTo(1_300_000);
    expect(q.items[0].bytesSent).toBe(3_500_000);
  });

  it('waits for the network when offline, then resumes the same transfer', () => {
    const { q, transfers, net, goOnline, timers } = setup({ online: true });
    q.add([file('a.mp4'), file('b.mp4')]);
    q.startAll();
    transfers[0].ev.progress(400, 1000);
    net.online = false;
    transfers[0].ev.error({ retriable: true, message: 'network' });
    expect(q.items[0].status).toBe('waiting');
    expect(q.items[1].status).toBe('queued'); // the next file does not jump ahead
    expect(timers.size).toBe(0); // offline: no timer, only the online event
    goOnline();
    expect(q.items[0].status).toBe('uploading');
    expect(transfers).toHaveLength(1);
    expect(transfers[0].starts).toBe(2);
    transfers[0].ev.resumed(400);
    expect(q.items[0].resumedFrom).toBe(400);
    transfers[0].ev.success();
    expect(q.items.map((i) => i.status)).toEqual(['done', 'uploading']);
  });

  it('retries after a while when the browser thinks it is online', () => {
    const { q, transfers, advance } = setup({ online: true });
    q.add([file('a.mp4')]);
    q.startAll();
    transfers[0].ev.error({ retriable: true, message: 'network' });
    advance(14_999);
    expect(q.items[0].status).toBe('waiting');
    advance(1);
    expect(q.items[0].status).toBe('uploading');
    expect(transfers[0].starts).toBe(2);
  });

  it('gives up after maxWaits and lets the person retry', () => {
    const { q, transfers, advance } = setup({ maxWaits: 2 });
    const [id] = q.add([file('a.mp4')]);
    q.startAll();
    for (let i = 0; i < 2; i++) {
      transfers[0].ev.error({ retriable: true, message: 'network' });
      advance(15_000);
    }
    transfers[0].ev.error({ retriable: true, message: 'network' });
    expect(q.items[0].status).toBe('failed');
    expect(q.items[0].error).toBe('gave up');
    q.retry(id);
    expect(q.items[0].status).toBe('uploading');
    expect(transfers[0].starts).toBe(4);
  });

  it('fails at once on errors a person must fix, and moves on', () => {
    const { q, transfers } = setup();
    q.add([file('a.mp4'), file('b.mp4')]);
    q.startAll();
    transfers[0].ev.error({ retriable: false, message: 'too large' });
    expect(q.items.map((i) => [i.status, i.error])).toEqual([
      ['failed', 'too large'],
      ['uploading', ''],
    ]);
  });

  it('cancels: terminates the upload, ignores its late events and starts the next', async () => {
    const { q, transfers, completed } = setup();
    const [a] = q.add([file('a.mp4'), file('b.mp4')]);
    q.startAll();
    const first = transfers[0];
    await q.cancel(a);
    expect(first.aborted).toEqual([true]);
    expect(q.items.map((i) => i.status)).toEqual(['cancelled', 'uploading']);
    first.ev.progress(999, 1000);
    first.ev.success();
    expect(q.items[0].status).toBe('cancelled');
    expect(completed).toEqual([]);
  });

  it('cancelling a waiting upload stops waiting for the network', async () => {
    const { q, transfers, net, onlineFns } = setup();
    const [a] = q.add([file('a.mp4')]);
    q.startAll();
    net.online = false;
    transfers[0].ev.error({ retriable: true, message: 'network' });
    expect(onlineFns.size).toBe(1);
    await q.cancel(a);
    expect(onlineFns.size).toBe(0);
  });

  it('removes only items that are not in flight; clears finished ones', () => {
    const { q, transfers } = setup();
    const [a, b, c] = q.add([file('a.mp4'), file('b.mp4'), file('c.mp4')]);
    q.startAll();
    q.remove(a);
    expect(q.items).toHaveLength(3);
    transfers[0].ev.success();
    q.remove(c); // queued
    expect(q.items).toHaveLength(3);
    q.clearFinished();
    expect(q.items.map((i) => i.id)).toEqual([b, c]);
  });

  it('notifies subscribers with a new array each change', () => {
    const { q } = setup();
    const seen: number[] = [];
    const stop = q.subscribe((items) => seen.push(items.length));
    q.add([file('a.mp4')]);
    stop();
    q.add([file('b.mp4')]);
    expect(seen).toEqual([0, 1]);
  });

  it('destroy aborts transfers without deleting the partial uploads', async () => {
    const { q, transfers } = setup();
    q.add([file('a.mp4')]);
    q.startAll();
    await q.destroy();
    expect(transfers[0].aborted).toEqual([false]);
  });
});

describe('upload helpers', () => {
  it.each([
    ['lesson.mp4', 'lesson'],
    ['Period_2__forces.final.MOV', 'Period 2 forces.final'],
    ['.mp4', '.mp4'],
    ['noext', 'noext'],
    ['  spaced   name .webm', 'spaced name'],
  ])('titleFromFilename(%s) = %s', (name, title) => {
    expect(titleFromFilename(name)).toBe(title);
  });

  it.each([
    ['video/mp4', true],
    ['audio/mpeg', true],
    ['', true],
    ['application/octet-stream', true],
    ['image/png', false],
    ['application/pdf', false],
  ])('isMediaFile(%s) = %s', (type, ok) => {
    expect(isMediaFile({ type })).toBe(ok);
  });

  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1000, '1 KB'],
    [1_430_000, '1.4 MB'],
    [25_000_000, '25 MB'],
    [4_294_967_296, '4.3 GB'],
  ])('formatBytes(%d) = %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    { search: '?uploadChunk=65536', stored: null, want: 65536 },
    { search: '', stored: '2048', want: 2048 },
    { search: '?uploadChunk=12', stored: null, want: DEFAULT_CHUNK_SIZE },
    { search: '?uploadChunk=abc', stored: '4096', want: DEFAULT_CHUNK_SIZE },
    { search: '', stored: null, want: DEFAULT_CHUNK_SIZE },
  ])('chunkSizeFrom($search, $stored) = $want', ({ search, stored, want }) => {
    expect(chunkSizeFrom(search, stored)).toBe(want);
  });
});
