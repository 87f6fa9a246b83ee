// The review player's controller: it owns one <video> element and, when the
// browser needs it, one hls.js instance, and exposes a small typed state
// (Svelte store contract) and actions. Components render state and call
// actions; annotations and live rooms use the same controller to read the
// time and to seek, so nothing else touches the media element.
//
// Playback source: hls.js (lazy-loaded, the "light" build: no subtitles,
// alternate audio or DRM, which filmroom does not use, at about half the
// size) wherever Media Source Extensions exist; the browser's own HLS (Safari
// on iOS) otherwise. Captions are <track> elements the page renders from the
// clip's media JSON, which works the same with both.

import { clamp } from './timeline';

/** Level is one quality (HLS rendition) a person may pick. */
export interface Level {
  /** index is hls.js's level index. */
  index: number;
  height: number;
  bitrate: number;
}

/** PlayerState is everything the controls show. Times are milliseconds. */
export interface PlayerState {
  /** ready is true once the duration is known and playback can start. */
  ready: boolean;
  playing: boolean;
  /** waiting is true while playback stalls for data. */
  waiting: boolean;
  currentMs: number;
  durationMs: number;
  /** bufferedMs is how far ahead of currentMs data is loaded. */
  bufferedMs: number;
  rate: number;
  /** levels is empty with native HLS (the browser picks the quality). */
  levels: readonly Level[];
  /** level is the chosen level index, -1 for automatic. */
  level: number;
  /** playingHeight is the height of the rendition on screen now (0 unknown). */
  playingHeight: number;
  captionsAvailable: boolean;
  captionsOn: boolean;
  fullscreen: boolean;
  /** engine says what plays the stream, for diagnostics. */
  engine: 'none' | 'hls.js' | 'native';
  /** error is a message for people; empty when all is well. */
  error: string;
}

/** RATES are the playback rates offered, slow to fast. */
export const RATES: readonly number[] = [0.5, 0.75, 1, 1.25, 1.5, 2];

/** Action is what a keyboard shortcut does. */
export type Action =
  | { kind: 'toggle-play' }
  | { kind: 'seek-by'; ms: number }
  | { kind: 'fullscreen' }
  | { kind: 'captions' }
  | { kind: 'help' }
  | { kind: 'rate-by'; step: 1 | -1 };

/** Shortcut documents one key for the help overlay. */
export interface Shortcut {
  keys: readonly string[];
  /** i18n key of the description. */
  does: 'shortcut.play' | 'shortcut.back5' | 'shortcut.fwd5' | 'shortcut.back1' | 'shortcut.fwd1'
    | 'shortcut.fullscreen' | 'shortcut.captions' | 'shortcut.slower' | 'shortcut.faster' | 'shortcut.help';
}

/** SHORTCUTS lists the player's keys in the order the help overlay shows. */
export const SHORTCUTS: readonly Shortcut[] = [
  { keys: ['Space', 'K'], does: 'shortcut.play' },
  { keys: ['J'], does: 'shortcut.back5' },
  { keys: ['L'], does: 'shortcut.fwd5' },
  { keys: ['←'], does: 'shortcut.back1' },
  { keys: ['→'], does: 'shortcut.fwd1' },
  { keys: ['<'], does: 'shortcut.slower' },
  { keys: ['>'], does: 'shortcut.faster' },
  { keys: ['F'], does: 'shortcut.fullscreen' },
  { keys: ['C'], does: 'shortcut.captions' },
  { keys: ['?'], does: 'shortcut.help' },
];

/** KeyLike is the part of a KeyboardEvent the shortcut map reads. */
export interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  target: EventTarget | null;
}

interface ElementLike {
  tagName?: string;
  isContentEditable?: boolean;
  getAttribute?(name: string): string | null;
  closest?(selector: string): unknown;
}

/**
 * shortcutFor maps a key press to a player action, or null to leave the key
 * alone. Keys typed into fields are never taken; Space and Enter on buttons
 * and links keep activating them; arrows on a slider, menu or tab list keep
 * their own meaning there; and dialogs own their keys.
 */
export function shortcutFor(e: KeyLike): Action | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  const el = e.target as ElementLike | null;
  const tag = el?.tagName?.toUpperCase() ?? '';
  if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el?.isContentEditable) return null;
  if (el?.closest?.('dialog, [role="dialog"]')) return null;
  const role = el?.getAttribute?.('role') ?? '';
  const onControl = tag === 'BUTTON' || tag === 'A' || tag === 'SUMMARY' || role === 'button' || role === 'tab';
  const ownsArrows = role === 'slider' || role === 'tab' || role === 'menuitem' || role === 'option' || role === 'radio';
  switch (e.key) {
    case ' ':
    case 'Spacebar':
      return onControl ? null : { kind: 'toggle-play' };
    case 'k':
    case 'K':
      return { kind: 'toggle-play' };
    case 'j':
    case 'J':
      return { kind: 'seek-by', ms: -5000 };
    case 'l':
    case 'L':
      return { kind: 'seek-by', ms: 5000 };
    case 'ArrowLeft':
      return ownsArrows ? null : { kind: 'seek-by', ms: -1000 };
    case 'ArrowRight':
      return ownsArrows ? null : { kind: 'seek-by', ms: 1000 };
    case 'f':
    case 'F':
      return { kind: 'fullscreen' };
    case 'c':
    case 'C':
      return { kind: 'captions' };
    case '?':
      return { kind: 'help' };
    case '<':
      return { kind: 'rate-by', step: -1 };
    case '>':
      return { kind: 'rate-by', step: 1 };
    default:
      return null;
  }
}

/** nextRate steps through RATES from the nearest offered rate. */
export function nextRate(current: number, step: 1 | -1): number {
  let i = 0;
  for (let k = 0; k < RATES.length; k++) {
    if (Math.abs(RATES[k] - current) < Math.abs(RATES[i] - current)) i = k;
  }
  return RATES[clamp(i + step, 0, RATES.length - 1)];
}

/** levelLabel names a level for people ("720p"); audio-only levels are "audio". */
export function levelLabel(l: Pick<Level, 'height' | 'bitrate'>): string {
  if (l.height > 0) return `${l.height}p`;
  return `${Math.round(l.bitrate / 1000)} kbit/s`;
}

/** HlsEvents is the subset of hls.js event names the controller uses. */
interface HlsLike {
  levels: ReadonlyArray<{ height: number; bitrate: number }>;
  currentLevel: number;
  nextLevel: number;
  autoLevelEnabled: boolean;
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  startLoad(startPosition?: number): void;
  recoverMediaError(): void;
  destroy(): void;
  on(event: string, fn: (event: string, data: never) => void): void;
}

/** HlsModule is what `import('hls.js/light')` resolves to, reduced to what is used. */
export interface HlsModule {
  default: {
    isSupported(): boolean;
    Events: Record<string, string>;
    ErrorTypes: Record<string, string>;
    new (config: Record<string, unknown>): HlsLike;
  };
}

/** PlayerMessages are the texts errors are shown with (from i18n). */
export interface PlayerMessages {
  unsupported: string;
  network: string;
  decode: string;
}

/** PlayerOptions configures a controller; the loaders are injectable for tests. */
export interface PlayerOptions {
  /** loadHls imports hls.js; the default lazy-loads the light build. */
  loadHls?: () => Promise<HlsModule>;
  /** workerUrl is hls.js's worker script (same origin, allowed by the CSP). */
  workerUrl?: string;
  /** hasMse says whether Media Source Extensions exist (default: mseAvailable). */
  hasMse?: () => boolean;
  /** doc is the document (fullscreen API); defaults to the global one. */
  doc?: Document;
  messages: PlayerMessages;
}

type Listener = (s: PlayerState) => void;

/** initialPlayerState is the state before anything is attached. */
export function initialPlayerState(): PlayerState {
  return { ...initial };
}

const initial: PlayerState = {
  ready: false,
  playing: false,
  waiting: false,
  currentMs: 0,
  durationMs: 0,
  bufferedMs: 0,
  rate: 1,
  levels: [],
  level: -1,
  playingHeight: 0,
  captionsAvailable: false,
  captionsOn: true,
  fullscreen: false,
  engine: 'none',
  error: '',
};

/** mseAvailable says whether hls.js could work here, without loading it. */
export function mseAvailable(w: unknown = globalThis): boolean {
  const g = w as { MediaSource?: unknown; ManagedMediaSource?: unknown; WebKitMediaSource?: unknown };
  return !!(g.MediaSource || g.ManagedMediaSource || g.WebKitMediaSource);
}

const HLS_TYPE = 'application/vnd.apple.mpegurl';

/**
 * PlayerController drives one video element. Create it, call attach once the
 * element exists, and destroy when the page goes away.
 */
export class PlayerController {
  #state: PlayerState = { ...initial };
  #listeners = new Set<Listener>();
  #video: HTMLVideoElement | null = null;
  #container: HTMLElement | null = null;
  #hls: HlsLike | null = null;
  #hlsLoad: Promise<HlsModule | null> | null = null;
  #cleanup: Array<() => void> = [];
  #opts: PlayerOptions;
  #recoveries = 0;
  /** #hlsModule is the loaded hls.js, for a new instance on switchSource. */
  #hlsModule: HlsModule | null = null;
  /** #src is the master playlist in use (switchSource changes it). */
  #src = '';
  #destroyed = false;
  /** onHelp runs when the "?" shortcut asks for the shortcut list. */
  onHelp: (() => void) | null = null;

  constructor(opts: PlayerOptions) {
    this.#opts = opts;
  }

  /** state is the latest snapshot. */
  get state(): PlayerState {
    return this.#state;
  }

  /** video is the attached element (null before attach). */
  get video(): HTMLVideoElement | null {
    return this.#video;
  }

  /** subscribe follows Svelte's store contract. */
  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    fn(this.#state);
    return () => this.#listeners.delete(fn);
  }

  #set(patch: Partial<PlayerState>): void {
    let changed = false;
    for (const k of Object.keys(patch) as Array<keyof PlayerState>) {
      if (this.#state[k] !== patch[k]) {
        changed = true;
        break;
      }
    }
    if (!changed) return;
    this.#state = { ...this.#state, ...patch };
    for (const fn of this.#listeners) fn(this.#state);
  }

  #on(target: EventTarget, type: string, fn: (e: Event) => void): void {
    target.addEventListener(type, fn);
    this.#cleanup.push(() => target.removeEventListener(type, fn));
  }

  /**
   * preload starts loading hls.js where it will be used (Media Source
   * Extensions), so the page can fetch and compile it while it still waits
   * for the clip's details; attach then finds it loaded.
   */
  preload(): void {
    if ((this.#opts.hasMse ?? mseAvailable)()) void this.#loadHls();
  }

  /** #loadHls imports hls.js once; a failed import is forgotten, so the next attach tries again. */
  #loadHls(): Promise<HlsModule | null> {
    if (!this.#hlsLoad) {
      const load = this.#opts.loadHls ?? (() => import('hls.js/light') as unknown as Promise<HlsModule>);
      this.#hlsLoad = load().catch(() => {
        this.#hlsLoad = null;
        return null;
      });
    }
    return this.#hlsLoad;
  }

  /**
   * attach starts playback of an HLS master playlist in video. container is
   * what goes full screen (the video with its controls and timeline).
   */
  async attach(video: HTMLVideoElement, src: string, container?: HTMLElement): Promise<void> {
    this.#detach(); // a remounted player attaches again
    this.#destroyed = false;
    this.#recoveries = 0;
    this.#src = src;
    this.#video = video;
    this.#container = container ?? video;
    this.#listen(video);
    if ((this.#opts.hasMse ?? mseAvailable)()) {
      // A failed chunk load (offline, deploy in between) falls through to native HLS.
      const mod = await this.#loadHls();
      if (this.#destroyed) return;
      if (mod?.default.isSupported()) {
        this.#useHls(mod, video, src);
        return;
      }
    }
    if (video.canPlayType(HLS_TYPE)) {
      video.src = src;
      this.#set({ engine: 'native' });
      return;
    }
    this.#set({ error: this.#opts.messages.unsupported });
  }

  /**
   * switchSource loads a changed master playlist (the clip's full set of
   * qualities arrived) and goes on at the same instant, playing or paused
   * as before.
   */
  switchSource(src: string): void {
    const video = this.#video;
    if (!video) return;
    const at = video.currentTime;
    const paused = video.paused;
    this.#src = src;
    const resume = () => {
      if (Math.abs(video.currentTime - at) > 0.05) video.currentTime = at;
      if (!paused) void video.play().catch(() => {});
    };
    video.addEventListener('loadedmetadata', resume, { once: true });
    if (this.#hls && this.#hlsModule) {
      // A new hls.js instance starting at the same instant: loadSource on
      // the old one starts over from the beginning.
      this.#hls.destroy();
      this.#useHls(this.#hlsModule, video, src, at);
      return;
    }
    video.src = src;
  }

  #useHls(mod: HlsModule, video: HTMLVideoElement, src: string, startAt = -1): void {
    this.#hlsModule = mod;
    const Hls = mod.default;
    const config: Record<string, unknown> = {
      // Cap the rendition at what the element can show: a weak laptop in a
      // small window should not decode 1080p.
      capLevelToPlayerSize: true,
      // No withCredentials: playlists are same-origin (the session cookie
      // goes along anyway), and on S3 the segments are presigned URLs on
      // another origin whose CORS answer is "*", which credentials would fail.
      maxBufferLength: 30,
      backBufferLength: 60,
      startPosition: startAt,
    };
    if (this.#opts.workerUrl) config.workerPath = this.#opts.workerUrl;
    else config.enableWorker = false;
    const hls = new Hls(config);
    this.#hls = hls;
    const E = Hls.Events;
    hls.on(E.MANIFEST_PARSED, () => {
      const levels = hls.levels.map((l, index) => ({ index, height: l.height, bitrate: l.bitrate }));
      this.#set({ levels, level: -1 });
    });
    hls.on(E.LEVEL_SWITCHED, (_e, data: { level: number }) => {
      this.#set({ playingHeight: hls.levels[data.level]?.height ?? 0 });
    });
    hls.on(E.ERROR, (_e, data: { fatal: boolean; type: string; response?: { code?: number } }) => {
      if (!data.fatal) return;
      // Segment links are signed and expire (after the lesson's length plus
      // a margin, sooner when a paused player sits for hours): fetch the
      // playlist again for fresh links and go on where the viewer was. If
      // access was removed, the playlist itself is refused and this ends.
      if (this.#recoveries < 3 && data.type === Hls.ErrorTypes.NETWORK_ERROR && data.response?.code === 403) {
        this.#recoveries++;
        const at = video.currentTime;
        hls.loadSource(this.#src);
        hls.startLoad(at);
        return;
      }
      // Recover a few times (a flaky network, a decoder hiccup), then tell the person.
      if (this.#recoveries < 3 && data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        this.#recoveries++;
        hls.startLoad();
        return;
      }
      if (this.#recoveries < 3 && data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        this.#recoveries++;
        hls.recoverMediaError();
        return;
      }
      this.#set({
        error: data.type === Hls.ErrorTypes.NETWORK_ERROR ? this.#opts.messages.network : this.#opts.messages.decode,
      });
    });
    hls.loadSource(src);
    hls.attachMedia(video);
    this.#set({ engine: 'hls.js' });
  }

  #listen(video: HTMLVideoElement): void {
    const ms = (s: number) => (Number.isFinite(s) ? Math.round(s * 1000) : 0);
    const buffered = () => {
      const t = video.currentTime;
      const b = video.buffered;
      for (let i = 0; i < b.length; i++) {
        if (b.start(i) <= t + 0.1 && t <= b.end(i)) return ms(b.end(i) - t);
      }
      return 0;
    };
    const timing = () =>
      this.#set({ currentMs: ms(video.currentTime), durationMs: ms(video.duration), bufferedMs: buffered() });
    this.#on(video, 'loadedmetadata', () => {
      timing();
      this.#set({ ready: true });
      this.#syncCaptions();
    });
    this.#on(video, 'durationchange', timing);
    this.#on(video, 'timeupdate', timing);
    this.#on(video, 'seeked', timing);
    this.#on(video, 'progress', timing);
    this.#on(video, 'play', () => this.#set({ playing: true }));
    this.#on(video, 'playing', () => this.#set({ playing: true, waiting: false, error: '' }));
    this.#on(video, 'pause', () => this.#set({ playing: false }));
    this.#on(video, 'ended', () => this.#set({ playing: false }));
    this.#on(video, 'waiting', () => this.#set({ waiting: true }));
    this.#on(video, 'canplay', () => this.#set({ waiting: false }));
    this.#on(video, 'ratechange', () => this.#set({ rate: video.playbackRate }));
    this.#on(video, 'resize', () => {
      if (this.#state.engine === 'native') this.#set({ playingHeight: video.videoHeight });
    });
    this.#on(video, 'error', () => {
      if (this.#state.engine === 'native') this.#set({ error: this.#opts.messages.decode });
    });
    const tracks = video.textTracks;
    if (tracks) {
      this.#on(tracks, 'addtrack', () => this.#syncCaptions());
      this.#on(tracks, 'removetrack', () => this.#syncCaptions());
    }
    const doc = this.#opts.doc ?? (typeof document === 'undefined' ? undefined : document);
    if (doc) {
      this.#on(doc, 'fullscreenchange', () => this.#set({ fullscreen: !!doc.fullscreenElement }));
    }
  }

  #captionTracks(): TextTrack[] {
    const list = this.#video?.textTracks;
    if (!list) return [];
    const out: TextTrack[] = [];
    for (let i = 0; i < list.length; i++) {
      const tr = list[i];
      if (tr.kind === 'captions' || tr.kind === 'subtitles') out.push(tr);
    }
    return out;
  }

  // Captions are on by default whenever a track exists; one track shows at a time.
  #syncCaptions(): void {
    const tracks = this.#captionTracks();
    const on = this.#state.captionsOn;
    tracks.forEach((tr, i) => {
      tr.mode = on && i === 0 ? 'showing' : 'disabled';
    });
    this.#set({ captionsAvailable: tracks.length > 0 });
  }

  /** play starts playback; a refused autoplay is reported, not thrown. */
  async play(): Promise<void> {
    const v = this.#video;
    if (!v) return;
    try {
      await v.play();
    } catch (err) {
      // AbortError: a pause() came before play() resolved, which is fine.
      if ((err as { name?: string }).name !== 'AbortError') {
        this.#set({ error: this.#opts.messages.decode });
      }
    }
  }

  pause(): void {
    this.#video?.pause();
  }

  togglePlay(): void {
    const v = this.#video;
    if (!v) return;
    if (v.paused || v.ended) void this.play();
    else v.pause();
  }

  /** seek jumps to ms, clamped to the clip. */
  seek(ms: number): void {
    const v = this.#video;
    if (!v) return;
    const dur = Number.isFinite(v.duration) ? v.duration * 1000 : this.#state.durationMs;
    const to = clamp(ms, 0, dur > 0 ? dur : 0);
    v.currentTime = to / 1000;
    this.#set({ currentMs: Math.round(to) });
  }

  seekBy(deltaMs: number): void {
    const v = this.#video;
    if (!v) return;
    this.seek(v.currentTime * 1000 + deltaMs);
  }

  setRate(rate: number): void {
    const v = this.#video;
    if (!v || !(rate > 0)) return;
    v.playbackRate = rate;
    this.#set({ rate });
  }

  /** setLevel picks a quality; -1 lets hls.js choose by bandwidth. */
  setLevel(index: number): void {
    const hls = this.#hls;
    if (!hls) return;
    // nextLevel switches at the next segment without flushing the buffer,
    // so the picture does not stall.
    hls.nextLevel = index;
    this.#set({ level: index });
  }

  setCaptions(on: boolean): void {
    this.#set({ captionsOn: on });
    this.#syncCaptions();
  }

  toggleCaptions(): void {
    this.setCaptions(!this.#state.captionsOn);
  }

  async toggleFullscreen(): Promise<void> {
    const doc = this.#opts.doc ?? document;
    try {
      if (doc.fullscreenElement) await doc.exitFullscreen();
      else await this.#container?.requestFullscreen();
    } catch {
      // Refused (iframe without permission, iOS): nothing to undo.
    }
  }

  /** run performs a shortcut's action. */
  run(a: Action): void {
    switch (a.kind) {
      case 'toggle-play':
        this.togglePlay();
        break;
      case 'seek-by':
        this.seekBy(a.ms);
        break;
      case 'fullscreen':
        void this.toggleFullscreen();
        break;
      case 'captions':
        this.toggleCaptions();
        break;
      case 'help':
        this.onHelp?.();
        break;
      case 'rate-by':
        this.setRate(nextRate(this.#state.rate, a.step));
        break;
    }
  }

  /**
   * handleKey runs the shortcut for a keydown, if any, and prevents the
   * browser's default for it (page scroll on Space). It returns whether the
   * key was used.
   */
  handleKey(e: KeyLike & { preventDefault(): void }): boolean {
    if (!this.#video) return false;
    const a = shortcutFor(e);
    if (!a) return false;
    e.preventDefault();
    this.run(a);
    return true;
  }

  #detach(): void {
    for (const fn of this.#cleanup.splice(0)) fn();
    this.#hls?.destroy();
    this.#hls = null;
    this.#video = null;
  }

  /** destroy stops loading, detaches listeners and frees hls.js. */
  destroy(): void {
    this.#destroyed = true;
    this.#detach();
    this.#listeners.clear();
  }
}
