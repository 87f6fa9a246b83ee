// The typed client of the audit log API (privacy/http.go): a clip's log for
// its owner, the log of all my clips, and the site's log for admins, as
// JSON pages or CSV downloads; and describeEntry, which says in words what
// one entry records. Calls go through Api.request like every other.

import type { Api, User } from './api';
import { t, type MessageKey } from './i18n';

/** AuditAction names what an entry records (internal/audit's Action). */
export type AuditAction =
  | 'sign_in'
  | 'sign_in_failed'
  | 'clip.view'
  | 'clip.download'
  | 'clip.export'
  | 'clip.share'
  | 'clip.unshare'
  | 'clip.redact'
  | 'clip.delete'
  | 'clip.consent'
  | 'clip.retention'
  | 'account.export'
  | 'account.delete'
  | 'settings.change';

/** AUDIT_ACTIONS lists every action, in the order the filters offer them. */
export const AUDIT_ACTIONS: readonly AuditAction[] = [
  'clip.view',
  'clip.download',
  'clip.export',
  'clip.share',
  'clip.unshare',
  'clip.redact',
  'clip.delete',
  'clip.consent',
  'clip.retention',
  'sign_in',
  'sign_in_failed',
  'account.export',
  'account.delete',
  'settings.change',
];

/** AuditEntry is one recorded event; names and titles are as they were then. */
export interface AuditEntry {
  id: string;
  at: string;
  actor_id: string;
  actor_name: string;
  action: AuditAction | string;
  clip_id?: string;
  clip_owner_id?: string;
  clip_title?: string;
  subject?: string;
  detail?: string;
  /** address is the client address, shown to admins only. */
  address?: string;
}

/** AuditPage is one page, newest first; next continues with older entries. */
export interface AuditPage {
  entries: AuditEntry[];
  next?: string;
}

/** AuditQuery filters a log; empty fields select everything. */
export interface AuditQuery {
  action?: string;
  actor_id?: string;
  clip_id?: string;
  after?: string;
  limit?: number;
}

/** AuditScope is whose log: one clip's, my clips', or the whole site's. */
export type AuditScope = { clip: string } | 'mine' | 'site';

function scopePath(scope: AuditScope): string {
  if (scope === 'mine') return '/me/audit';
  if (scope === 'site') return '/admin/audit';
  return `/clips/${encodeURIComponent(scope.clip)}/audit`;
}

function queryString(q: AuditQuery, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...q, ...extra })) {
    if (v !== undefined && v !== '') p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** auditCsvUrl is the address of a log's CSV download (the same filters, every page). */
export function auditCsvUrl(scope: AuditScope, q: AuditQuery = {}): string {
  const { after: _after, limit: _limit, ...filters } = q;
  return `/api/v1${scopePath(scope)}${queryString(filters, { format: 'csv' })}`;
}

const known = (a: string): a is AuditAction => (AUDIT_ACTIONS as readonly string[]).includes(a);

/** actionLabel names an action for filters ("Viewed"); unknown ones show as they are. */
export function actionLabel(action: string): string {
  return known(action) ? t(`audit.action.${action}` as MessageKey) : action;
}

/** describeEntry says what an entry records: "Pat Peer viewed the clip". */
export function describeEntry(e: AuditEntry): string {
  const who = e.actor_name || (e.actor_id ? t('audit.someone') : t('audit.system'));
  const subject = e.subject ?? '';
  if (e.action === 'sign_in_failed' && !e.actor_id) return t('audit.did.sign_in_failed_unknown', { subject });
  if (!known(e.action)) return `${who}: ${e.action}`;
  return t(`audit.did.${e.action}` as MessageKey, { who, subject });
}

/** AuditApi reads the audit logs. */
export class AuditApi {
  #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  /** log returns one page of a log. */
  log(scope: AuditScope, q: AuditQuery = {}): Promise<AuditPage> {
    return this.#api.request('GET', `${scopePath(scope)}${queryString(q)}`);
  }

  /** users lists every account (site admins only), for the person filter. */
  async users(): Promise<User[]> {
    return (await this.#api.request<{ users: User[] }>('GET', '/users')).users;
  }
}
