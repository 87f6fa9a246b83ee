import { describe, expect, it } from 'vitest';
import {
  levelLabel,
  mseAvailable,
  nextRate,
  PlayerController,
  shortcutFor,
  SHORTCUTS,
  type HlsModule,
  type KeyLike,
} from './player';

// A stand-in for HTMLVideoElement: an EventTarget with the media fields the
// controller reads and writes, and text tracks that can be added.
class FakeTrack {
  mode: 'disabled' | 'hidden' | 'showing' = 'disabled';
  constructor(readonly kind: string) {}
}

class FakeTracks extends EventTarget {
  list: FakeTrack[] = [];
  get length() {
    return this.list.length;
  }
  add(kind: string) {
    const tr = new FakeTrack(kind);
    this.list.push(tr);
    (this as unknown as Record<number, FakeTrack>)[this.list.length - 1] = tr;
    this.dispatchEvent(new Event('addtrack'));
    return tr;
  }
}

class FakeVideo extends EventTarget {
  currentTime = 0;
  duration = NaN;
  paused = true;
  ended = false;
  playbackRate = 1;
  videoHeight = 0;
  src = '';
  textTracks = new FakeTracks();
  buffered = { length: 0, start: () => 0, end: () => 0 };
  nativeHls = false;
  plays = 0;
  canPlayType(type: string) {
    return this.nativeHls && type === 'application/vnd.apple.mpegurl' ? 'maybe' : '';
  }
  async play() {
    this.plays++;
    this.paused = false;
    this.dispatchEvent(new Event('play'));
  }
  pause() {
    this.paused = true;
    this.dispatchEvent(new Event('pause'));
  }
  fire(type: string) {
    this.dispatchEvent(new Event(type));
  }
}

type Handler = (event: string, data: never) => void;

function fakeHls(opts: { supported?: boolean } = {}) {
  const created: FakeHls[] = [];
  class FakeHls {
    static isSupported = () => opts.supported ?? true;
    static Events = { MANIFEST_PARSED: 'manifestParsed', LEVEL_SWITCHED: 'levelSwitched', ERROR: 'error' };
    static ErrorTypes = { NETWORK_ERROR: 'networkError', MEDIA_ERROR: 'mediaError', OTHER_ERROR: 'otherError' };
    levels = [
      { height: 360, bitrate: 800_000 },
      { height: 720, bitrate: 2_800_000 },
    ];
    currentLevel = -1;
    nextLevel = -1;
    autoLevelEnabled = true;
    handlers = new Map<string, Handler[]>();
    source = '';
    media: unknown = null;
    startLoads = 0;
    recoveries = 0;
    destroyed = false;
    constructor(readonly config: Record<string, unknown>) {
      created.push(this);
    }
    on(event: string, fn: Handler) {
      this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
    }
    emit(event: string, data: unknown) {
      for (const fn of this.handlers.get(event) ?? []) fn(event, data as never);
    }
    loadSource(url: string) {
      this.source = url;
    }
    attachMedia(m: unknown) {
      this.media = m;
    }
    startPositions: Array<number | undefined> = [];
    startLoad(at?: number) {
      this.startLoads++;
      this.startPositions.push(at);
    }
    recoverMediaError() {
      this.recoveries++;
    }
    destroy() {
      this.destroyed = true;
    }
  }
  const mod = { default: FakeHls } as unknown as HlsModule;
  return { mod, created };
}

const messages = { unsupported: 'unsupported', network: 'network', decode: 'decode' };

function setup(opts: { mse?: boolean; supported?: boolean; failLoad?: boolean } = {}) {
  const { mod, created } = fakeHls({ supported: opts.supported });
  const doc = Object.assign(new EventTarget(), { fullscreenElement: null }) as unknown as Document;
  const c = new PlayerController({
    messages,
    hasMse: () => opts.mse ?? true,
    loadHls: () => (opts.failLoad ? Promise.reject(new Error('chunk')) : Promise.resolve(mod)),
    workerUrl: '/assets/hls.worker.js',
    doc,
  });
  const video = new FakeVideo();
  const el = video as unknown as HTMLVideoElement;
  return { c, video, el, created };
}

describe('PlayerController', () => {
  it('preloads hls.js once and attaches with it; a failed load is tried again', async () => {
    const { mod } = fakeHls();
    let loads = 0;
    let fail = true;
    const c = new PlayerController({
      messages,
      hasMse: () => true,
      loadHls: () => {
        loads++;
        return fail ? Promise.reject(new Error('chunk')) : Promise.resolve(mod);
      },
      doc: Object.assign(new EventTarget(), { fullscreenElement: null }) as unknown as Document,
    });
    c.preload();
    c.preload();
    expect(loads).toBe(1);
    await Promise.resolve();
    await Promise.resolve();
    fail = false;
    await c.attach(new FakeVideo() as unknown as HTMLVideoElement, '/m.m3u8');
    expect(loads).toBe(2);
    expect(c.state.engine).toBe('hls.js');
    await c.attach(new FakeVideo() as unknown as HTMLVideoElement, '/m.m3u8');
    expect(loads).toBe(2);
  });

  it('does not preload hls.js without MSE', () => {
    let loads = 0;
    const c = new PlayerController({ messages, hasMse: () => false, loadHls: () => (loads++, Promise.reject(new Error('no'))) });
    c.preload();
    expect(loads).toBe(0);
  });

  it('plays through hls.js where MSE exists, with the cookie and the worker', async () => {
    const { c, el, created } = setup();
    await c.attach(el, '/api/v1/clips/c1/media/master.m3u8');
    expect(created).toHaveLength(1);
    const hls = created[0];
    expect(hls.source).toBe('/api/v1/clips/c1/media/master.m3u8');
    expect(hls.media).toBe(el);
    expect(hls.config.workerPath).toBe('/assets/hls.worker.js');
    expect(hls.config.capLevelToPlayerSize).toBe(true);
    // Presigned S3 segment URLs answer CORS with "*": no credentials mode.
    expect(hls.config.xhrSetup).toBeUndefined();
    expect(c.state.engine).toBe('hls.js');
  });

  it('lists levels and switches quality at the next segment', async () => {
    const { c, el, created } = setup();
    await c.attach(el, 'm.m3u8');
    created[0].emit('manifestParsed', {});
    expect(c.state.levels.map(levelLabel)).toEqual(['360p', '720p']);
    c.setLevel(1);
    expect(created[0].nextLevel).toBe(1);
    expect(c.state.level).toBe(1);
    created[0].emit('levelSwitched', { level: 1 });
    expect(c.state.playingHeight).toBe(720);
    c.setLevel(-1);
    expect(created[0].nextLevel).toBe(-1);
  });

  it.each([
    { name: 'no MSE', mse: false, supported: true, failLoad: false },
    { name: 'hls.js unsupported', mse: true, supported: false, failLoad: false },
    { name: 'hls.js failed to load', mse: true, supported: true, failLoad: true },
  ])('falls back to native HLS: $name', async ({ mse, supported, failLoad }) => {
    const { c, video, el, created } = setup({ mse, supported, failLoad });
    video.nativeHls = true;
    await c.attach(el, 'm.m3u8');
    expect(video.src).toBe('m.m3u8');
    expect(c.state.engine).toBe('native');
    expect(created).toHaveLength(0);
  });

  it('says so when nothing can play HLS', async () => {
    const { c, el } = setup({ mse: false });
    await c.attach(el, 'm.m3u8');
    expect(c.state.error).toBe('unsupported');
  });

  it('recovers from a few fatal errors, then reports', async () => {
    const { c, el, created } = setup();
    await c.attach(el, 'm.m3u8');
    const hls = created[0];
    hls.emit('error', { fatal: false, type: 'networkError' });
    expect(hls.startLoads).toBe(0);
    hls.emit('error', { fatal: true, type: 'networkError' });
    hls.emit('error', { fatal: true, type: 'mediaError' });
    hls.emit('error', { fatal: true, type: 'networkError' });
    expect([hls.startLoads, hls.recoveries]).toEqual([2, 1]);
    expect(c.state.error).toBe('');
    hls.emit('error', { fatal: true, type: 'networkError' });
    expect(c.state.error).toBe('network');
  });

  it('switches to a new master playlist where it is, and later recoveries use it', async () => {
    const { c, video, el, created } = setup();
    await c.attach(el, '/api/v1/clips/c1/media/master.m3u8');
    expect(created[0].config.startPosition).toBe(-1);
    video.currentTime = 42;
    c.switchSource('/api/v1/clips/c1/media/master.m3u8?v=2');
    expect(created).toHaveLength(2);
    expect(created[0].destroyed).toBe(true);
    const hls = created[1];
    expect(hls.source).toBe('/api/v1/clips/c1/media/master.m3u8?v=2');
    expect(hls.config.startPosition).toBe(42);
    expect(hls.media).toBe(el);
    hls.source = '';
    hls.emit('error', { fatal: true, type: 'networkError', response: { code: 403 } });
    expect(hls.source).toBe('/api/v1/clips/c1/media/master.m3u8?v=2');
  });

  it('fetches fresh media links when a signed link has expired, and goes on where it was', async () => {
    const { c, video, el, created } = setup();
    await c.attach(el, '/api/v1/clips/c1/media/master.m3u8');
    const hls = created[0];
    hls.source = '';
    video.currentTime = 1234.5;
    hls.emit('error', { fatal: true, type: 'networkError', response: { code: 403 } });
    expect(hls.source).toBe('/api/v1/clips/c1/media/master.m3u8');
    expect(hls.startPositions).toEqual([1234.5]);
    expect(c.state.error).toBe('');
    // Access removed: the playlist is refused too, and after a few tries the person is told.
    hls.emit('error', { fatal: true, type: 'networkError', response: { code: 403 } });
    hls.emit('error', { fatal: true, type: 'networkError', response: { code: 404 } });
    hls.emit('error', { fatal: true, type: 'networkError', response: { code: 403 } });
    expect(c.state.error).toBe('network');
  });

  it('follows the element: time, duration, play state, rate', async () => {
    const { c, video, el } = setup();
    const seen: boolean[] = [];
    c.subscribe((s) => {
      if (seen.at(-1) !== s.playing) seen.push(s.playing);
    });
    await c.attach(el, 'm.m3u8');
    video.duration = 6.04;
    video.fire('loadedmetadata');
    expect(c.state.ready).toBe(true);
    expect(c.state.durationMs).toBe(6040);
    c.togglePlay();
    await Promise.resolve();
    expect(c.state.playing).toBe(true);
    video.currentTime = 1.5;
    video.fire('timeupdate');
    expect(c.state.currentMs).toBe(1500);
    c.togglePlay();
    expect(c.state.playing).toBe(false);
    c.setRate(1.5);
    expect(video.playbackRate).toBe(1.5);
    expect(c.state.rate).toBe(1.5);
    expect(seen).toEqual([false, true, false]);
  });

  it('seeks within the clip', async () => {
    const { c, video, el } = setup();
    await c.attach(el, 'm.m3u8');
    video.duration = 10;
    video.fire('loadedmetadata');
    c.seek(4000);
    expect(video.currentTime).toBe(4);
    c.seekBy(-5000);
    expect(video.currentTime).toBe(0);
    c.seek(60_000);
    expect(video.currentTime).toBe(10);
    c.seekBy(-1000);
    expect(video.currentTime).toBe(9);
  });

  it('shows captions by default when a track appears, one at a time, and toggles them', async () => {
    const { c, video, el } = setup();
    await c.attach(el, 'm.m3u8');
    expect(c.state.captionsAvailable).toBe(false);
    video.textTracks.add('metadata');
    const en = video.textTracks.add('captions');
    const fr = video.textTracks.add('subtitles');
    expect(c.state.captionsAvailable).toBe(true);
    expect([en.mode, fr.mode]).toEqual(['showing', 'disabled']);
    c.toggleCaptions();
    expect([en.mode, fr.mode, c.state.captionsOn]).toEqual(['disabled', 'disabled', false]);
    c.run({ kind: 'captions' });
    expect(en.mode).toBe('showing');
  });

  it('runs keyboard shortcuts and prevents the page from scrolling', async () => {
    const { c, video, el } = setup();
    await c.attach(el, 'm.m3u8');
    video.duration = 60;
    video.fire('loadedmetadata');
    video.currentTime = 30;
    let prevented = 0;
    const press = (key: string) =>
      c.handleKey({ key, ctrlKey: false, metaKey: false, altKey: false, target: null, preventDefault: () => prevented++ });
    expect(press('l')).toBe(true);
    expect(video.currentTime).toBe(35);
    press('j');
    press('ArrowLeft');
    expect(video.currentTime).toBe(29);
    press(' ');
    expect(video.plays).toBe(1);
    press('>');
    expect(video.playbackRate).toBe(1.25);
    let helped = false;
    c.onHelp = () => (helped = true);
    press('?');
    expect(helped).toBe(true);
    expect(press('x')).toBe(false);
    expect(prevented).toBe(6);
  });

  it('attaching again releases the first element and hls.js', async () => {
    const { c, el, created } = setup();
    await c.attach(el, 'a.m3u8');
    const second = new FakeVideo();
    await c.attach(second as unknown as HTMLVideoElement, 'b.m3u8');
    expect(created[0].destroyed).toBe(true);
    expect(created[1].source).toBe('b.m3u8');
    second.duration = 3;
    second.fire('loadedmetadata');
    expect(c.state.durationMs).toBe(3000);
    (el as unknown as FakeVideo).duration = 9;
    (el as unknown as FakeVideo).fire('loadedmetadata');
    expect(c.state.durationMs).toBe(3000); // the old element is no longer heard
  });

  it('does nothing before attach and after destroy', async () => {
    const { c, el, created } = setup();
    expect(c.handleKey({ key: 'k', ctrlKey: false, metaKey: false, altKey: false, target: null, preventDefault() {} })).toBe(false);
    await c.attach(el, 'm.m3u8');
    c.destroy();
    expect(created[0].destroyed).toBe(true);
    expect(c.video).toBeNull();
  });
});

describe('shortcutFor', () => {
  const el = (tagName: string, attrs: Record<string, string> = {}, inDialog = false) => ({
    tagName,
    isContentEditable: attrs.contenteditable === 'true',
    getAttribute: (n: string) => attrs[n] ?? null,
    closest: (sel: string) => (inDialog && sel.includes('dialog') ? {} : null),
  });
  const key = (k: string, target: unknown = null, mods: Partial<KeyLike> = {}): KeyLike => ({
    key: k,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    target: target as EventTarget | null,
    ...mods,
  });

  it.each([
    { name: 'space on the page', e: key(' '), want: 'toggle-play' },
    { name: 'k', e: key('k'), want: 'toggle-play' },
    { name: 'K', e: key('K'), want: 'toggle-play' },
    { name: 'j', e: key('j'), want: 'seek-by:-5000' },
    { name: 'l', e: key('l'), want: 'seek-by:5000' },
    { name: 'left', e: key('ArrowLeft'), want: 'seek-by:-1000' },
    { name: 'right', e: key('ArrowRight'), want: 'seek-by:1000' },
    { name: 'f', e: key('f'), want: 'fullscreen' },
    { name: 'c', e: key('c'), want: 'captions' },
    { name: '?', e: key('?'), want: 'help' },
    { name: 'space on a button', e: key(' ', el('BUTTON')), want: null },
    { name: 'space on a link', e: key(' ', el('A')), want: null },
    { name: 'k on a button', e: key('k', el('BUTTON')), want: 'toggle-play' },
    { name: 'typing in a field', e: key('k', el('INPUT')), want: null },
    { name: 'typing in a textarea', e: key('j', el('TEXTAREA')), want: null },
    { name: 'a select', e: key('ArrowLeft', el('SELECT')), want: null },
    { name: 'contenteditable', e: key('l', el('DIV', { contenteditable: 'true' })), want: null },
    { name: 'arrows on a slider', e: key('ArrowLeft', el('DIV', { role: 'slider' })), want: null },
    { name: 'arrows on a tab', e: key('ArrowRight', el('BUTTON', { role: 'tab' })), want: null },
    { name: 'j on a slider', e: key('j', el('DIV', { role: 'slider' })), want: 'seek-by:-5000' },
    { name: 'inside a dialog', e: key('k', el('P', {}, true)), want: null },
    { name: 'ctrl+f', e: key('f', null, { ctrlKey: true }), want: null },
    { name: 'cmd+c', e: key('c', null, { metaKey: true }), want: null },
    { name: 'other keys', e: key('x'), want: null },
  ])('$name', ({ e, want }) => {
    const a = shortcutFor(e);
    const got = a === null ? null : a.kind === 'seek-by' ? `seek-by:${a.ms}` : a.kind;
    expect(got).toBe(want);
  });

  it('documents every key it handles', () => {
    const documented = SHORTCUTS.flatMap((s) => s.keys);
    expect(documented).toEqual(expect.arrayContaining(['Space', 'K', 'J', 'L', '←', '→', 'F', 'C', '?']));
  });
});

describe('helpers', () => {
  it.each([
    { rate: 1, step: 1 as const, want: 1.25 },
    { rate: 1, step: -1 as const, want: 0.75 },
    { rate: 2, step: 1 as const, want: 2 },
    { rate: 0.5, step: -1 as const, want: 0.5 },
    { rate: 1.1, step: 1 as const, want: 1.25 },
  ])('nextRate($rate, $step) = $want', ({ rate, step, want }) => {
    expect(nextRate(rate, step)).toBe(want);
  });

  it('labels levels', () => {
    expect(levelLabel({ height: 1080, bitrate: 5e6 })).toBe('1080p');
    expect(levelLabel({ height: 0, bitrate: 128_000 })).toBe('128 kbit/s');
  });

  it('detects MSE', () => {
    expect(mseAvailable({})).toBe(false);
    expect(mseAvailable({ MediaSource: class {} })).toBe(true);
    expect(mseAvailable({ ManagedMediaSource: class {} })).toBe(true);
  });
});
