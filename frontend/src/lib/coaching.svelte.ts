// The coaching state of one review page: the clip's rubric, its annotations
// (REST first, then kept current by the live room), the room's members and
// sync session, and this viewer's part in it (following or hosting). The
// Review page creates one and hands it to the coaching panels, so the panels
// share one source of truth and the page stays the only owner of the player.

import type { Api, Clip } from './api';
import type { CaptionState } from './captionsApi';
import {
  CoachingApi,
  type Annotation,
  type AnnotationInput,
  type AnnotationPatch,
  type Goal,
  type Reflection,
  type ReflectionAnswers,
  type Rubric,
  DEFAULT_PROMPTS,
} from './annotationsApi';
import { applyEvent, colorOf, criteriaOf, emptyDraft, fromAnnotation, markIn, markOut, newKey, remove, upsert, type Draft } from './annotations';
import {
  LiveClient,
  liveUrl,
  type LiveError,
  type LiveHandlers,
  type LiveStatus,
  type Member,
  type Pointer,
  type Presence,
  type RoomEvent,
  type SyncRequested,
  type Welcome,
} from './live';
import type { PlayerController } from './player';
import { SyncFollower, type Correction, type SyncState } from './sync';
import { acceptPointer, PointerThrottle, POINTER_HIDE_MS, type HostPointer } from './pointer';
import type { MarkerLayer, TimelineMarker } from './timeline';
import { clockText } from './timeline';
import { t } from './i18n';

/** FRESH_MS is how long an annotation from someone else stays highlighted. */
export const FRESH_MS = 6000;
/** RECOVERED_MS is how long "connected again" shows after a reconnect. */
export const RECOVERED_MS = 8000;
/** PLAYHEAD_EVERY_MS is how often presence carries the playhead while playing. */
export const PLAYHEAD_EVERY_MS = 1000;
/** PRESENCE_COLOR draws other people's playheads on the timeline. */
const PRESENCE_COLOR = '#4a5462';

/** CoachingDeps are injectable for tests and other hosts of the panels. */
export interface CoachingDeps {
  api: Api;
  controller: PlayerController;
  markers: MarkerLayer;
  /** me is the signed-in user's ID. */
  me: string;
  /** live makes the room client; the default opens the real websocket. */
  live?: (clipId: string, handlers: LiveHandlers) => LiveClient;
  /**
   * frame runs fn before the next paint (default: requestAnimationFrame,
   * with a timer for tabs in the background, where frames do not run).
   */
  frame?: (fn: () => void) => void;
}

/** nextFrame runs fn at the next animation frame, or within 100 ms when no frame comes (a hidden tab). */
function nextFrame(fn: () => void): void {
  if (typeof requestAnimationFrame !== 'function') {
    setTimeout(fn, 0);
    return;
  }
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    fn();
  };
  const timer = setTimeout(once, 100);
  requestAnimationFrame(once);
}

/** ReviewCoaching is the shared state of the coaching panels of one clip. */
export class ReviewCoaching {
  readonly coach: CoachingApi;
  readonly controller: PlayerController;
  readonly markers: MarkerLayer;
  readonly me: string;

  clip = $state<Clip | null>(null);
  rubric = $state<Rubric | null>(null);
  /**
   * annotations in playback order. Raw state: the list is always replaced,
   * never changed in place, so its (thousands of) items need no proxies.
   */
  annotations = $state.raw<Annotation[]>([]);
  loaded = $state(false);
  loadError = $state('');
  /** fresh holds IDs of others' annotations that just arrived (highlighted a moment). */
  fresh = $state<Record<string, true>>({});
  /** announce is the latest polite announcement for screen readers. */
  announce = $state('');

  /** reflection is the clip's reflection as this viewer may see it (null: none yet). */
  reflection = $state<Reflection | null>(null);
  prompts = $state<Record<keyof ReflectionAnswers, string>>({ ...DEFAULT_PROMPTS });

  /** goals are the owner's active goals, to file feedback as evidence. */
  goals = $state<Goal[]>([]);

  liveStatus = $state<LiveStatus>('connecting');
  /** recovered is true for a moment after a reconnect, for the "connected again" note. */
  recovered = $state(false);
  members = $state<Member[]>([]);
  you = $state<Member | null>(null);
  sync = $state<SyncState | null>(null);
  following = $state(false);
  drift = $state<Correction | null>(null);
  requests = $state<SyncRequested[]>([]);
  /** playBlocked is true when the browser wants a click before following playback can start. */
  playBlocked = $state(false);
  syncError = $state('');
  /** captions is the latest caption state announced in the room (captions.changed). */
  captions = $state.raw<CaptionState | null>(null);
  /** pointer is the host's pointer as this follower draws it (null: none shown). */
  pointer = $state<HostPointer | null>(null);
  /** pointing is true while the host shares their pointer (the toggle, or holding P). */
  pointing = $state(false);

  /** draft is the composer's content; keys (I, O) and the region tool change it too. */
  draft = $state<Draft>(emptyDraft());
  /** pinned is true once the draft's time was chosen (typing, I/O): it stops following the playhead. */
  pinned = $state(false);
  /** editingId is the annotation the composer edits (null: a new one). */
  editingId = $state<string | null>(null);
  /** editingRevision is the revision the edit started from (a newer one on the server is a conflict, 409). */
  editingRevision: number | undefined = undefined;

  /** pendingRegion is set while the composer asks for a box to be drawn. */
  drawing = $state(false);
  /** focusComposer asks the composer to take focus (the N key). */
  onFocusComposer: (() => void) | null = null;

  #live: LiveClient | null = null;
  #deps: CoachingDeps;
  #follower: SyncFollower;
  #cleanup: Array<() => void> = [];
  #freshTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #lastPlayheadAt = 0;
  #clipId = '';
  #dropped = false;
  #recoveredTimer: ReturnType<typeof setTimeout> | undefined;
  /** live annotation events waiting for the next frame (applied together). */
  #pending: RoomEvent[] = [];
  #frameAsked = false;
  #markersDirty = false;
  /** markers drawn for annotation objects (unchanged annotations keep theirs), per rubric. */
  #markerOf = new WeakMap<Annotation, TimelineMarker>();
  #markerCriteria: unknown = null;
  #destroyed = false;
  #pointerOut = new PointerThrottle((x, y) => void this.#live?.send({ type: 'pointer', x, y }));
  #pointerHide: ReturnType<typeof setTimeout> | undefined;

  constructor(deps: CoachingDeps) {
    this.#deps = deps;
    this.coach = new CoachingApi(deps.api);
    this.controller = deps.controller;
    this.markers = deps.markers;
    this.me = deps.me;
    this.#follower = new SyncFollower({
      media: () => this.controller.video,
      serverNow: () => this.#live?.serverNow() ?? null,
      onCorrection: (c) => (this.drift = c),
      onPlayBlocked: () => (this.playBlocked = true),
    });
    this.markers.onActivate = (m) => {
      if (m.id.startsWith('presence:')) this.controller.seek(m.startMs);
      else this.seekTo(m.startMs);
    };
  }

  /** criteria lists the rubric's criteria in key order (1–9). */
  get criteria() {
    return criteriaOf(this.rubric);
  }

  get isOwner(): boolean {
    return this.clip?.owner.id === this.me;
  }

  can(action: 'annotate' | 'host' | 'edit'): boolean {
    return this.clip?.my_access?.includes(action) ?? false;
  }

  /**
   * hidesFeedback is true while reflect-first hides others' feedback from
   * this viewer (the clip's owner, before submitting a reflection).
   */
  get hidesFeedback(): boolean {
    return this.isOwner && !!this.clip?.feedback_after_reflection && this.reflection?.status !== 'submitted';
  }

  /** loadReflection reads the reflection and its prompts. */
  async loadReflection(): Promise<void> {
    if (!this.#clipId) return;
    try {
      const r = await this.coach.reflection(this.#clipId);
      this.reflection = r.reflection;
      this.prompts = { ...DEFAULT_PROMPTS, ...r.prompts };
    } catch {
      this.reflection = null;
    }
  }

  async #loadGoals(): Promise<void> {
    try {
      this.goals = (await this.coach.goals()).items.filter((g) => g.status === 'active');
    } catch {
      this.goals = [];
    }
  }

  /** addToGoal files this clip (and optionally one annotation) as evidence for a goal. */
  async addToGoal(goalId: string, annotationId?: string): Promise<Goal> {
    const g = await this.coach.addEvidence(goalId, { clip_id: this.#clipId, annotation_id: annotationId });
    this.goals = this.goals.map((x) => (x.id === g.id ? g : x));
    return g;
  }

  /** saveReflection stores the owner's answers, submitting them when asked. */
  async saveReflection(answers: ReflectionAnswers, submit: boolean): Promise<void> {
    let r = await this.coach.saveReflection(this.#clipId, answers);
    if (submit) r = await this.coach.submitReflection(this.#clipId);
    const wasHidden = this.hidesFeedback;
    this.reflection = r.reflection;
    this.prompts = { ...DEFAULT_PROMPTS, ...r.prompts };
    // Submitting opens others' feedback: read it now, the room sends only what is new.
    if (wasHidden && !this.hidesFeedback) await this.reload();
  }

  get isHost(): boolean {
    return !!this.sync?.active && this.sync.host_id === this.me;
  }

  /** open loads everything for clip and joins its room (once per clip). */
  open(clip: Clip): void {
    this.clip = clip;
    if (this.#clipId === clip.id) {
      void this.#loadRubric();
      return;
    }
    this.#clipId = clip.id;
    void this.#loadRubric();
    void this.reload();
    void this.loadReflection();
    if (this.isOwner) void this.#loadGoals();
    this.#join(clip.id);
    this.#watchPlayer();
  }

  /** setClip takes a changed clip (rubric chosen, reflection submitted…). */
  setClip(clip: Clip): void {
    this.clip = clip;
    void this.#loadRubric();
  }

  async #loadRubric(): Promise<void> {
    const c = this.clip;
    if (!c?.rubric_id) {
      this.rubric = null;
      this.#drawMarkers();
      return;
    }
    if (this.rubric?.id === c.rubric_id) return;
    try {
      this.rubric = await this.coach.rubric(c.rubric_id, { clipId: c.id });
    } catch {
      this.rubric = null;
    }
    this.#drawMarkers();
  }

  /** reload reads every annotation over REST (at open, and when replay was impossible). */
  async reload(): Promise<void> {
    if (!this.#clipId) return;
    try {
      const list = await this.coach.allAnnotations(this.#clipId);
      // Events that arrived while the list loaded are newer: keep them.
      let merged = list.filter((a) => !a.deleted_at);
      for (const a of this.annotations) if (!merged.some((m) => m.id === a.id)) merged = upsert(merged, a);
      this.annotations = merged;
      this.loadError = '';
    } catch (err) {
      this.loadError = (err as Error).message || t('coach.loadFailed');
    } finally {
      this.loaded = true;
      this.#drawMarkers();
    }
  }

  #join(clipId: string): void {
    const handlers: LiveHandlers = {
      welcome: (w: Welcome) => {
        this.you = w.you;
        this.members = w.members;
        this.#setSync(w.sync);
        this.#drawMarkers();
      },
      event: (e: RoomEvent) => this.#onEvent(e),
      presence: (p: Presence) => {
        if (p.op === 'leave') this.members = this.members.filter((m) => m.conn_id !== p.member.conn_id);
        else {
          const i = this.members.findIndex((m) => m.conn_id === p.member.conn_id);
          this.members = i < 0 ? [...this.members, p.member] : this.members.map((m, k) => (k === i ? p.member : m));
        }
        this.#drawMarkers();
      },
      pointer: (p: Pointer) => this.#onPointer(p),
      syncRequested: (r: SyncRequested) => {
        if (r.user_id === this.me) return;
        this.requests = [...this.requests.filter((x) => x.user_id !== r.user_id), r];
      },
      error: (e: LiveError) => {
        this.syncError = e.message;
      },
      status: (s: LiveStatus) => {
        this.liveStatus = s;
        clearTimeout(this.#recoveredTimer);
        if (s === 'reconnecting') {
          this.#dropped = true;
          this.recovered = false;
        } else if (s === 'open' && this.#dropped) {
          // Say so for a moment: the replay has brought back what was missed.
          this.#dropped = false;
          this.recovered = true;
          this.#recoveredTimer = setTimeout(() => (this.recovered = false), RECOVERED_MS);
        }
      },
      resync: () => void this.reload(),
    };
    this.#live = this.#deps.live
      ? this.#deps.live(clipId, handlers)
      : new LiveClient({ url: liveUrl(clipId) }, handlers);
    this.#live.connect();
  }

  #onEvent(e: RoomEvent): void {
    if (e.event.startsWith('sync.')) {
      this.#setSync(e.data as SyncState);
      return;
    }
    if (e.event === 'captions.changed') {
      this.captions = e.data as CaptionState;
      return;
    }
    // Annotation events are applied together once per frame: a busy room
    // (many arrivals a second) costs one list update and one marker draw
    // per frame, not one per event.
    this.#pending.push(e);
    this.#askFrame();
  }

  #askFrame(): void {
    if (this.#frameAsked) return;
    this.#frameAsked = true;
    (this.#deps.frame ?? nextFrame)(() => this.flush());
  }

  /** flush applies the live events received since the last frame and draws the markers now. */
  flush(): void {
    this.#frameAsked = false;
    if (this.#destroyed) return;
    const events = this.#pending.splice(0);
    if (events.length > 0) {
      let list = this.annotations;
      const fresh: string[] = [];
      for (const e of events) {
        const change = applyEvent(list, e, this.me);
        list = change.list;
        if (change.fresh) fresh.push(change.fresh);
      }
      this.annotations = list;
      if (fresh.length > 0) {
        const next = { ...this.fresh };
        for (const id of fresh) next[id] = true;
        this.fresh = next;
        const last = list.find((x) => x.id === fresh[fresh.length - 1]);
        if (last) this.announce = t('list.live', { name: last.author.name, time: clockText(last.start_ms) });
        for (const id of fresh) {
          clearTimeout(this.#freshTimers.get(id));
          this.#freshTimers.set(
            id,
            setTimeout(() => {
              const { [id]: _, ...rest } = this.fresh;
              void _;
              this.fresh = rest;
              this.#freshTimers.delete(id);
            }, FRESH_MS),
          );
        }
      }
      this.#markersDirty = true;
    }
    if (this.#markersDirty) this.#drawMarkersNow();
  }

  #onPointer(p: Pointer): void {
    const seen = acceptPointer(p, this.sync, this.me);
    if (!seen) return;
    this.pointer = seen;
    // No "pointer gone" message exists: the dot goes when the moves stop.
    clearTimeout(this.#pointerHide);
    this.#pointerHide = setTimeout(() => (this.pointer = null), POINTER_HIDE_MS);
  }

  /** pointAt shares the host's pointer at (x, y) of the frame (0..1), throttled. */
  pointAt(x: number, y: number): void {
    if (!this.isHost) return;
    this.#pointerOut.move(x, y);
  }

  /** setPointing turns sharing the pointer on or off (only a host shares one). */
  setPointing(on: boolean): void {
    this.pointing = on && this.isHost;
    if (!this.pointing) this.#pointerOut.cancel();
  }

  #setSync(st: SyncState | null): void {
    const wasActive = !!this.sync?.active;
    this.sync = st;
    // The pointer belongs to the session's host: a new host or the end of the
    // session takes the old one away, and only a host shares one.
    if (this.pointer && (!st?.active || st.host_id !== this.pointer.userId)) {
      clearTimeout(this.#pointerHide);
      this.pointer = null;
    }
    if (this.pointing && !(st?.active && st.host_id === this.me)) this.setPointing(false);
    if (!st?.active) {
      this.requests = [];
      this.#setFollowing(false);
      return;
    }
    this.#follower.setState(st);
    if (st.host_id === this.me) {
      this.#setFollowing(false);
      this.requests = this.requests.filter((r) => r.user_id !== this.me);
    } else if (!wasActive) {
      // A session just started (or was running when we joined): follow it.
      this.#setFollowing(true);
    }
  }

  #setFollowing(on: boolean): void {
    if (this.following === on) return;
    this.following = on;
    this.#follower.follow(on);
    if (!on) this.drift = null;
    this.#live?.send({ type: 'follow', following: on });
  }

  /** unblockPlay starts playback from a click (the browser's autoplay policy needs one). */
  unblockPlay(): void {
    this.playBlocked = false;
    const v = this.controller.video;
    if (v && this.sync?.playing) void v.play().catch(() => (this.playBlocked = true));
    this.#follower.tick();
  }

  /** follow re-joins (true) or detaches from (false) the host's session. */
  follow(on: boolean): void {
    if (on && !(this.sync?.active && !this.isHost)) return;
    this.#setFollowing(on);
  }

  // The player's element events: presence, host broadcasting, and a
  // follower's own seeks detaching them from the session.
  #watchPlayer(): void {
    const attach = () => {
      const v = this.controller.video;
      if (!v) return false;
      const on = (type: string, fn: () => void) => {
        v.addEventListener(type, fn);
        this.#cleanup.push(() => v.removeEventListener(type, fn));
      };
      // A follower who plays, pauses or seeks by hand is looking around on
      // their own: detach (the follower's own corrections are recognised).
      const byHand = () => this.following && !this.#follower.actedRecently();
      on('play', () => (byHand() ? this.#setFollowing(false) : this.#hostCommand('sync.play')));
      on('pause', () => (byHand() ? this.#setFollowing(false) : this.#hostCommand('sync.pause')));
      on('seeked', () => {
        if (this.following && !this.#follower.ownSeek(v.currentTime * 1000)) {
          this.#setFollowing(false);
          this.#sendPlayhead(true);
        } else this.#hostCommand('sync.seek');
      });
      on('ratechange', () => {
        if (this.isHost && this.sync && Math.abs(v.playbackRate - this.sync.rate) > 1e-6) {
          void this.#live?.request({ type: 'sync.rate', rate: v.playbackRate }).catch((e: Error) => (this.syncError = e.message));
        }
      });
      on('timeupdate', () => this.#sendPlayhead(false));
      return true;
    };
    if (attach()) return;
    // The player attaches its element after mounting: wait for it.
    const unsubscribe = this.controller.subscribe(() => {
      if (this.controller.video && attach()) queueMicrotask(() => unsubscribe());
    });
    this.#cleanup.push(unsubscribe);
  }

  #sendPlayhead(force: boolean): void {
    const v = this.controller.video;
    if (!v) return;
    const now = Date.now();
    if (!force && now - this.#lastPlayheadAt < PLAYHEAD_EVERY_MS) return;
    this.#lastPlayheadAt = now;
    this.#live?.send({ type: 'playhead', position_ms: Math.round(v.currentTime * 1000), playing: !v.paused });
  }

  #hostCommand(type: 'sync.play' | 'sync.pause' | 'sync.seek'): void {
    this.#sendPlayhead(true);
    const v = this.controller.video;
    if (!this.isHost || !v || !this.#live) return;
    const position = Math.round(v.currentTime * 1000);
    const at = this.#live.serverNow();
    const cmd = { type, position_ms: position, ...(at !== null ? { at_ms: Math.round(at) } : {}) };
    void this.#live.request(cmd).catch((e: Error) => (this.syncError = e.message));
  }

  // ---- session commands ----

  async #command(cmd: Parameters<LiveClient['request']>[0]): Promise<void> {
    this.syncError = '';
    try {
      await this.#live?.request(cmd);
    } catch (e) {
      this.syncError = t('sync.failed', { message: (e as Error).message });
    }
  }

  startSession(): Promise<void> {
    const v = this.controller.video;
    return this.#command({
      type: 'sync.start',
      position_ms: Math.round((v?.currentTime ?? 0) * 1000),
      playing: v ? !v.paused : false,
      rate: v?.playbackRate && v.playbackRate >= 0.25 && v.playbackRate <= 4 ? v.playbackRate : 1,
    });
  }

  endSession(): Promise<void> {
    return this.#command({ type: 'sync.end' });
  }

  requestControl(): Promise<void> {
    return this.#command({ type: 'sync.request' });
  }

  takeControl(): Promise<void> {
    return this.#command({ type: 'sync.take' });
  }

  handOff(userId: string): Promise<void> {
    this.requests = this.requests.filter((r) => r.user_id !== userId);
    return this.#command({ type: 'sync.handoff', user_id: userId });
  }

  dismissRequest(userId: string): void {
    this.requests = this.requests.filter((r) => r.user_id !== userId);
  }

  /** hostPresent says whether the session's host has a connection in the room. */
  get hostPresent(): boolean {
    const h = this.sync?.host_id;
    return !!h && this.members.some((m) => m.user_id === h);
  }

  /** setTyping tells the room whether this person is writing feedback. */
  setTyping(typing: boolean): void {
    this.#live?.send({ type: 'typing', typing });
  }

  // ---- annotations ----

  /** nowMs is the playhead. */
  nowMs(): number {
    const v = this.controller.video;
    return v ? Math.round(v.currentTime * 1000) : this.controller.state.currentMs;
  }

  /** seekTo moves the playhead (a follower looking at an annotation detaches first). */
  seekTo(ms: number): void {
    if (this.following) this.#setFollowing(false);
    this.controller.seek(ms);
  }

  /** create saves a new annotation (idempotent: a retried request never doubles it). */
  async create(input: AnnotationInput): Promise<Annotation> {
    const a = await this.coach.createAnnotation(this.#clipId, { idempotency_key: newKey(), ...input });
    this.annotations = upsert(this.annotations, a);
    this.#drawMarkers();
    return a;
  }

  async update(id: string, patch: AnnotationPatch): Promise<Annotation> {
    const a = await this.coach.updateAnnotation(this.#clipId, id, patch);
    this.annotations = upsert(this.annotations, a);
    this.#drawMarkers();
    return a;
  }

  async delete(id: string): Promise<Annotation> {
    const a = await this.coach.deleteAnnotation(this.#clipId, id);
    this.annotations = remove(this.annotations, id);
    this.#drawMarkers();
    return a;
  }

  async restore(id: string): Promise<Annotation> {
    const a = await this.coach.restoreAnnotation(this.#clipId, id);
    this.annotations = upsert(this.annotations, a);
    this.#drawMarkers();
    return a;
  }

  /** thread loads an annotation with its replies into the list. */
  async thread(id: string): Promise<Annotation> {
    const a = await this.coach.annotation(this.#clipId, id);
    this.annotations = upsert(this.annotations, a);
    return a;
  }

  async reply(annotationId: string, body: string): Promise<void> {
    await this.coach.createReply(this.#clipId, annotationId, body);
    await this.thread(annotationId);
  }

  async deleteReply(annotationId: string, replyId: string): Promise<void> {
    await this.coach.deleteReply(this.#clipId, annotationId, replyId);
    await this.thread(annotationId);
  }

  // ---- the composer's draft ----

  /** captureNow pins the draft to the playhead unless a time was already chosen. */
  captureNow(force = false): void {
    if (this.pinned && !force) return;
    const now = this.nowMs();
    this.draft = force ? markIn({ ...this.draft, endMs: null }, now) : { ...this.draft, startMs: now, endMs: null };
    this.pinned = true;
  }

  /** markIn sets the range start at the playhead (the I key). */
  markIn(): void {
    this.draft = markIn(this.draft, this.nowMs());
    this.pinned = true;
  }

  /** markOut sets the range end at the playhead (the O key). */
  markOut(): void {
    if (!this.pinned) this.draft = { ...this.draft, startMs: this.nowMs() };
    this.draft = markOut(this.draft, this.nowMs());
    this.pinned = true;
  }

  /** resetDraft empties the composer (keeping the visibility people chose). */
  resetDraft(): void {
    this.draft = emptyDraft(this.nowMs(), this.draft.visibility);
    this.pinned = false;
    this.editingId = null;
    this.editingRevision = undefined;
    this.drawing = false;
  }

  /** edit loads an annotation into the composer. */
  edit(a: Annotation): void {
    this.draft = fromAnnotation(a);
    this.pinned = true;
    this.editingId = a.id;
    this.editingRevision = a.revision;
    this.onFocusComposer?.();
  }

  colorOf(key: string | undefined): string {
    return colorOf(this.criteria, key);
  }

  // Annotation markers coloured by criterion (ranges as bars) and the other
  // members' playheads, through the timeline's markers API. Drawn at most
  // once a frame; an unchanged annotation keeps its marker object, so the
  // timeline redraws only what changed.
  #drawMarkers(): void {
    this.#markersDirty = true;
    this.#askFrame();
  }

  #drawMarkersNow(): void {
    this.#markersDirty = false;
    const crit = this.criteria;
    if (this.#markerCriteria !== this.rubric) {
      this.#markerCriteria = this.rubric;
      this.#markerOf = new WeakMap();
    }
    const list: TimelineMarker[] = this.annotations.map((a) => {
      let m = this.#markerOf.get(a);
      if (!m) {
        m = {
          id: a.id,
          startMs: a.start_ms,
          endMs: a.end_ms ?? undefined,
          color: colorOf(crit, a.criterion),
          label: [a.criterion_title, a.level_label, a.body.slice(0, 60)].filter(Boolean).join(' · ') || t(`kind.${a.kind}`),
        };
        this.#markerOf.set(a, m);
      }
      return m;
    });
    const seen = new Set<string>();
    for (const m of this.members) {
      if (m.conn_id === this.you?.conn_id || m.user_id === this.me || seen.has(m.user_id)) continue;
      seen.add(m.user_id);
      list.push({ id: `presence:${m.conn_id}`, startMs: m.playhead_ms, color: PRESENCE_COLOR, label: t('live.playheadOf', { name: m.name }) });
    }
    this.markers.setMarkers(list);
  }

  /** destroy leaves the room and stops every timer and listener. */
  destroy(): void {
    this.#destroyed = true;
    this.#pending = [];
    this.#live?.close();
    this.#live = null;
    this.#follower.destroy();
    for (const fn of this.#cleanup.splice(0)) fn();
    clearTimeout(this.#recoveredTimer);
    clearTimeout(this.#pointerHide);
    this.#pointerOut.cancel();
    for (const h of this.#freshTimers.values()) clearTimeout(h);
    this.#freshTimers.clear();
    this.markers.onActivate = null;
  }
}
