// The typed client for the filmroom JSON API (/api/v1). It is the only module
// that calls fetch: it adds the CSRF header to every state-changing request and
// turns error responses into ApiError, so pages deal with data and typed errors.

import { t } from './i18n';

/** User is a signed-in person; `admin` is the site-wide administrator flag. */
export interface User {
  id: string;
  email: string;
  name: string;
  admin: boolean;
}

/** SessionInfo is one signed-in browser of the user, as the session list shows it. */
export interface SessionInfo {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  user_agent: string;
  client_ip: string;
  /** current marks the browser the list was asked from. */
  current: boolean;
}

/** TokenScope is what an API token may do; no scope manages credentials. */
export type TokenScope = 'read' | 'upload' | 'full';

/** TOKEN_SCOPES lists scopes from least to most, as the UI offers them. */
export const TOKEN_SCOPES: readonly TokenScope[] = ['read', 'upload', 'full'];

/** TOKEN_LIFETIMES are the expiries (days) the server accepts; 90 is the default. */
export const TOKEN_LIFETIMES: readonly number[] = [7, 30, 90, 365];

/** ApiToken is a personal API token; `token` (the secret) only right after creation. */
export interface ApiToken {
  id: string;
  name: string;
  token?: string;
  scope: TokenScope;
  created_at: string;
  expires_at: string;
  expired: boolean;
  last_used_at: string | null;
}

/** Role is a person's role inside one group. */
export type Role = 'teacher' | 'coach' | 'peer' | 'facilitator';

/** ROLES lists group roles in the order the UI offers them. */
export const ROLES: readonly Role[] = ['teacher', 'coach', 'peer', 'facilitator'];

/** Group is a cohort or caseload as listed for the current person. */
export interface Group {
  id: string;
  name: string;
  description: string;
  my_role: Role;
  member_count: number;
}

/** Member is one person's membership in a group. */
export interface Member {
  user_id: string;
  name: string;
  email: string;
  role: Role;
}

/** Invitation is a freshly created invite link; `url` is absolute. */
export interface Invitation {
  token: string;
  url: string;
  role: Role;
  expires_at: string;
}

/** InvitationInfo is what someone opening an invite link may see about it. */
export interface InvitationInfo {
  group_name: string;
  role: Role;
  expires_at: string;
  inviter_name: string;
}

/** ClipStatus follows a clip from upload to playable (or failed). */
export type ClipStatus = 'uploading' | 'probing' | 'transcoding' | 'captioning' | 'ready' | 'failed';

/** ClipAction is something the signed-in person may do to a clip (`my_access`). */
export type ClipAction = 'view' | 'annotate' | 'host' | 'edit' | 'delete';

/** Rendition is one HLS quality of a clip. */
export interface Rendition {
  name: string;
  width: number;
  height: number;
  bandwidth: number;
  playlist: string;
}

/** CaptionTrack is one WebVTT caption file of a clip. */
export interface CaptionTrack {
  lang: string;
  label: string;
  /** kind is `machine` (automatic) or `edited`. */
  kind: string;
  path: string;
}

/**
 * ClipMedia is what processing made; paths are relative to the clip's media
 * folder (see clipMediaUrl). Fields are absent until the clip is ready, and
 * video-only parts (poster, sprite) are absent for audio recordings.
 */
export interface ClipMedia {
  master?: string;
  renditions?: Rendition[];
  mp4?: string;
  poster?: string;
  sprite?: string;
  /** thumbnails is the WebVTT track of sprite cues ("sprite.jpg#xywh=…"). */
  thumbnails?: string;
  /** waveform is audiowaveform JSON (v2) peaks. */
  waveform?: string;
  frame_rate?: number;
  captions?: CaptionTrack[];
}

/** Clip is a lesson recording and what processing made of it. */
export interface Clip {
  id: string;
  title: string;
  description: string;
  status: ClipStatus;
  /** failure says why processing failed and what to do (status `failed`). */
  failure?: { code: string; reason: string };
  /** progress is 0–100 while transcoding. */
  progress: number;
  /**
   * notice says, in words for a person, why processing is not moving on
   * (its worker stopped and it is retried, the storage is away); absent
   * when all is well.
   */
  notice?: string;
  owner: { id: string; name: string };
  filename: string;
  size_bytes: number;
  duration_ms: number;
  width: number;
  height: number;
  has_video: boolean;
  has_audio: boolean;
  /** caption_status is where the automatic captions job is: pending, running, ready, none or failed. */
  caption_status: string;
  /** caption_progress is 0–100 while captions are made (caption_status running). */
  caption_progress?: number;
  rubric_id?: string;
  reflect_first: boolean;
  feedback_after_reflection: boolean;
  group_id?: string;
  /**
   * audience: emails (for those who may edit the clip only) are the
   * addresses it was shared with, as typed; the server never says which
   * of them have an account.
   */
  audience: { users: Array<{ id: string; name: string }>; groups: Array<{ id: string; name: string }>; emails?: string[] };
  /** media is null or {} before processing finishes. */
  media: ClipMedia | null;
  /**
   * ladder is present while a playable clip's full set of qualities is
   * still being made: it plays meanwhile from its own recording ("copy")
   * or a small preview; the master playlist gains the ladder when done.
   */
  ladder?: { state: 'pending' | 'failed'; progress: number; start: 'copy' | 'preview' };
  /** my_access is filled by the single-clip calls (clip, updateClip, setAudience), not by lists. */
  my_access?: ClipAction[];
  created_at: string;
  updated_at: string;
}

/** ClipPatch changes a clip's editable fields; absent fields stay. */
export interface ClipPatch {
  title?: string;
  description?: string;
  rubric_id?: string;
  reflect_first?: boolean;
}

/** MAX_AUDIENCE_PEOPLE is how many people (IDs plus emails) one audience may name. */
export const MAX_AUDIENCE_PEOPLE = 50;

/** AudienceInput replaces who a clip is shared with (all empty: private). */
export interface AudienceInput {
  user_ids?: string[];
  emails?: string[];
  group_ids?: string[];
}

/** clipMediaUrl is the URL of one of a clip's media files (cookie authorized). */
export function clipMediaUrl(clipId: string, path: string): string {
  return `/api/v1/clips/${encodeURIComponent(clipId)}/media/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** clipDownloadUrl is the URL that downloads a ready clip as MP4. */
export function clipDownloadUrl(clipId: string): string {
  return `/api/v1/clips/${encodeURIComponent(clipId)}/download`;
}

/** accountExportUrl downloads all of the signed-in person's data as one ZIP. */
export function accountExportUrl(): string {
  return '/api/v1/me/export';
}

/** ClipScope selects which clips the library lists. */
export type ClipScope = 'mine' | 'shared' | 'all' | 'group';

/** NewAccount is what a person types to create an account. */
export interface NewAccount {
  email: string;
  name: string;
  password: string;
}

/** ErrorBody is the JSON shape of every API error response. */
export interface ErrorBody {
  error: { code: string; message: string; fields?: Record<string, string> };
}

/**
 * ApiError is a failed API call. `message` is written for people and is safe to
 * show; `fields` maps form field names to messages shown next to those fields.
 * `status` is 0 when the server could not be reached at all.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, fields: Record<string, string> = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** isApiError narrows unknown errors, optionally to one error code. */
export function isApiError(err: unknown, code?: string): err is ApiError {
  return err instanceof ApiError && (code === undefined || err.code === code);
}

/** CSRF_COOKIE is set by the server and echoed back in CSRF_HEADER. */
export const CSRF_COOKIE = 'filmroom_csrf';
/** CSRF_HEADER carries the CSRF token on every non-GET request. */
export const CSRF_HEADER = 'X-CSRF-Token';

/** readCookie returns one cookie's decoded value from a document.cookie string. */
export function readCookie(cookieHeader: string, name: string): string | null {
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw);
    } catch {
      return raw;
    }
  }
  return null;
}

/** Fetcher is the subset of fetch the client needs; tests pass their own. */
export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/** ApiOptions configures a client; all fields default to the browser's. */
export interface ApiOptions {
  /** fetch implementation; defaults to the global fetch. */
  fetch?: Fetcher;
  /** baseUrl is prepended to /api/v1 paths; empty means same origin. */
  baseUrl?: string;
  /** cookies returns the current cookie string; defaults to document.cookie. */
  cookies?: () => string;
  /**
   * onUnauthorized runs when a call that needs a session gets 401, so the app
   * can forget the user and show the sign-in page.
   */
  onUnauthorized?: (err: ApiError) => void;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// Calls whose 401 answers a question ("who am I?", "is this password right?")
// rather than meaning "your session ended".
const NO_SESSION_EXPECTED = ['/auth/login', '/setup', '/me', '/invitations/'];

function fallbackMessage(status: number): string {
  if (status === 401) return t('error.unauthorized');
  if (status === 403) return t('error.forbidden');
  if (status === 404) return t('error.notFound');
  if (status === 429) return t('error.tooMany');
  if (status >= 500) return t('error.server');
  return t('error.unexpected');
}

/**
 * sentence makes a server message read as a sentence in the UI: capital first
 * letter and closing punctuation ("check both" becomes "Check both.").
 */
export function sentence(message: string): string {
  const s = message.trim();
  if (!s) return s;
  const capital = s.charAt(0).toLocaleUpperCase('en') + s.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/** errorFromResponse builds an ApiError from a non-2xx response, JSON or not. */
export async function errorFromResponse(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // Proxies and crashed servers answer with HTML or nothing; keep the status.
  }
  const e = (body as Partial<ErrorBody> | null)?.error;
  if (e && typeof e === 'object') {
    const code = typeof e.code === 'string' && e.code ? e.code : `http_${res.status}`;
    const message = typeof e.message === 'string' && e.message ? sentence(e.message) : fallbackMessage(res.status);
    const fields: Record<string, string> = {};
    if (e.fields && typeof e.fields === 'object') {
      for (const [k, v] of Object.entries(e.fields)) {
        if (typeof v === 'string') fields[k] = sentence(v);
      }
    }
    return new ApiError(res.status, code, message, fields);
  }
  return new ApiError(res.status, `http_${res.status}`, fallbackMessage(res.status));
}

const seg = (id: string | number): string => encodeURIComponent(String(id));

/** Api is the typed filmroom API client. Create one per app. */
export class Api {
  readonly #fetch: Fetcher;
  readonly #base: string;
  readonly #cookies: () => string;
  readonly #onUnauthorized?: (err: ApiError) => void;

  constructor(opts: ApiOptions = {}) {
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#base = (opts.baseUrl ?? '').replace(/\/+$/, '');
    this.#cookies = opts.cookies ?? (() => (typeof document === 'undefined' ? '' : document.cookie));
    this.#onUnauthorized = opts.onUnauthorized;
  }

  /** request performs one call; path is relative to /api/v1. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (!SAFE_METHODS.has(method)) {
      const token = readCookie(this.#cookies(), CSRF_COOKIE);
      if (token) headers[CSRF_HEADER] = token;
    }
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}/api/v1${path}`, init);
    } catch {
      throw new ApiError(0, 'network_error', t('error.network'));
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (res.status === 401 && !NO_SESSION_EXPECTED.some((p) => path.startsWith(p))) {
        this.#onUnauthorized?.(err);
      }
      throw err;
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', t('error.server'));
    }
  }

  /** setupStatus says whether the first-run page must be shown. */
  setupStatus(): Promise<{ needed: boolean }> {
    return this.request('GET', '/setup');
  }

  /** setup creates the first administrator and signs them in. */
  setup(account: NewAccount): Promise<{ user: User }> {
    return this.request('POST', '/setup', account);
  }

  login(email: string, password: string): Promise<{ user: User }> {
    return this.request('POST', '/auth/login', { email, password });
  }

  logout(): Promise<void> {
    return this.request('POST', '/auth/logout');
  }

  /** me returns the signed-in person; it fails with status 401 when signed out. */
  me(): Promise<{ user: User }> {
    return this.request('GET', '/me');
  }

  /** deleteAccount deletes the signed-in person and all their data, after checking the password. */
  deleteAccount(password: string): Promise<void> {
    return this.request('DELETE', '/me', { password });
  }

  changePassword(currentPassword: string, newPassword: string): Promise<void> {
    return this.request('POST', '/me/password', {
      current_password: currentPassword,
      new_password: newPassword,
    });
  }

  /** sessions lists the user's signed-in browsers, this one marked `current`. */
  sessions(): Promise<{ sessions: SessionInfo[] }> {
    return this.request('GET', '/me/sessions');
  }

  /** revokeSession signs one browser out (this one too, if its id is given). */
  revokeSession(id: string): Promise<void> {
    return this.request('DELETE', `/me/sessions/${seg(id)}`);
  }

  /** revokeOtherSessions signs out every other browser and revokes every API token. */
  revokeOtherSessions(): Promise<{ revoked: { sessions: number; tokens: number } }> {
    return this.request('POST', '/me/sessions/revoke-others');
  }

  tokens(): Promise<{ tokens: ApiToken[] }> {
    return this.request('GET', '/me/tokens');
  }

  /** createToken answers with the secret, shown this once. */
  createToken(input: { name: string; scope: TokenScope; expires_in_days: number }): Promise<{ token: ApiToken }> {
    return this.request('POST', '/me/tokens', input);
  }

  deleteToken(id: string): Promise<void> {
    return this.request('DELETE', `/me/tokens/${seg(id)}`);
  }

  groups(): Promise<{ groups: Group[] }> {
    return this.request('GET', '/groups');
  }

  /** createGroup makes a group whose creator becomes its facilitator. */
  createGroup(name: string, description: string): Promise<{ group: Group }> {
    return this.request('POST', '/groups', { name, description });
  }

  group(id: string): Promise<{ group: Group; members: Member[] }> {
    return this.request('GET', `/groups/${seg(id)}`);
  }

  createInvitation(
    groupId: string,
    input: { role: Role; email?: string; expires_in_hours?: number },
  ): Promise<{ invitation: Invitation }> {
    const body: Record<string, unknown> = { role: input.role };
    if (input.email) body.email = input.email;
    if (input.expires_in_hours) body.expires_in_hours = input.expires_in_hours;
    return this.request('POST', `/groups/${seg(groupId)}/invitations`, body);
  }

  updateMember(groupId: string, userId: string, role: Role): Promise<unknown> {
    return this.request('PATCH', `/groups/${seg(groupId)}/members/${seg(userId)}`, { role });
  }

  removeMember(groupId: string, userId: string): Promise<void> {
    return this.request('DELETE', `/groups/${seg(groupId)}/members/${seg(userId)}`);
  }

  invitation(token: string): Promise<{ invitation: InvitationInfo }> {
    return this.request('GET', `/invitations/${seg(token)}`);
  }

  /**
   * acceptInvitation joins the group. Signed in, pass no account; signed out,
   * pass the new account, which is created and signed in.
   */
  acceptInvitation(token: string, account?: NewAccount): Promise<{ user: User; group_id: string }> {
    return this.request('POST', `/invitations/${seg(token)}/accept`, account ?? {});
  }

  clips(scope: ClipScope, groupId?: string): Promise<{ clips: Clip[] }> {
    const q = new URLSearchParams({ scope });
    if (groupId) q.set('group_id', groupId);
    return this.request('GET', `/clips?${q}`);
  }

  clip(id: string): Promise<{ clip: Clip }> {
    return this.request('GET', `/clips/${seg(id)}`);
  }

  updateClip(id: string, patch: ClipPatch): Promise<{ clip: Clip }> {
    return this.request('PATCH', `/clips/${seg(id)}`, patch);
  }

  /** setAudience replaces the clip's audience (owner only). */
  setAudience(id: string, audience: AudienceInput): Promise<{ clip: Clip }> {
    return this.request('PUT', `/clips/${seg(id)}/audience`, audience);
  }

  /** deleteClip removes the clip and all its media for good. */
  deleteClip(id: string): Promise<void> {
    return this.request('DELETE', `/clips/${seg(id)}`);
  }

  // ---- Coaching side (annotations, rubrics, live; see annotationsApi.ts) ----

  /**
   * requestText sends a non-JSON body (a CSV or JSON file being imported)
   * with its own Content-Type and reads a JSON answer, with the same CSRF
   * header and error handling as request.
   */
  async requestText<T>(method: string, path: string, body: string, contentType: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', 'Content-Type': contentType };
    const token = readCookie(this.#cookies(), CSRF_COOKIE);
    if (token && !SAFE_METHODS.has(method)) headers[CSRF_HEADER] = token;
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}/api/v1${path}`, { method, headers, body, credentials: 'same-origin' });
    } catch {
      throw new ApiError(0, 'network_error', t('error.network'));
    }
    if (!res.ok) {
      const err = await errorFromResponse(res);
      if (res.status === 401) this.#onUnauthorized?.(err);
      throw err;
    }
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(res.status, 'bad_response', t('error.server'));
    }
  }
  // ---- end of coaching side ----

  /**
   * clipMediaText reads one of a clip's small media files (a WebVTT track,
   * waveform.json) as text; large files are loaded by the player itself.
   */
  async clipMediaText(id: string, path: string): Promise<string> {
    let res: Response;
    try {
      res = await this.#fetch(`${this.#base}${clipMediaUrl(id, path)}`, { method: 'GET', credentials: 'same-origin' });
    } catch {
      throw new ApiError(0, 'network_error', t('error.network'));
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res.text();
  }
}
