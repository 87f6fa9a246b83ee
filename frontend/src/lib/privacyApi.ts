// The typed client of the privacy controls (privacy/policy and
// media/consent.go): the site's privacy policy (admins change it, everyone
// reads it), a clip's consent and download switch, keeping a clip longer,
// and running retention now; plus the small rules the pages share (the
// retention banner, the upload's consent metadata, the policy form's
// checks). Calls go through Api.request like every other.

import type { Api, Clip } from './api';

/** StudentsVisible is what the owner said: can students be seen or heard? */
export type StudentsVisible = 'yes' | 'no' | 'unknown';

export const STUDENTS_VISIBLE: readonly StudentsVisible[] = ['yes', 'no', 'unknown'];

/** ClipPrivacy is a clip's consent record and download state. */
export interface ClipPrivacy {
  students_visible: StudentsVisible;
  consent_on_file: boolean;
  /** consent_note is shown to those who may edit the clip only. */
  consent_note?: string;
  consent_updated_at?: string;
  downloads_allowed: boolean;
  site_downloads: boolean;
  can_download: boolean;
  consent_required: boolean;
  sharing_paused: boolean;
}

/** ClipRetention is when the retention policy deletes a clip. */
export interface ClipRetention {
  delete_after: string;
  warning: boolean;
  kept_until?: string;
  can_keep: boolean;
  keep_limit?: string;
}

/** ClipWithPrivacy is a Clip as the server sends it now. */
export type ClipWithPrivacy = Clip & { privacy?: ClipPrivacy; retention?: ClipRetention };

export type RetentionMode = 'off' | 'days' | 'date';

export interface RetentionPolicy {
  mode: RetentionMode;
  days: number;
  /** date is MM-DD (the end of the school year), for mode date. */
  date: string;
  warn_days: number;
  allow_keep: boolean;
  max_keep_days: number;
}

/** PrivacyPolicy is the site's policy. */
export interface PrivacyPolicy {
  require_consent: boolean;
  downloads_allowed: boolean;
  retention: RetentionPolicy;
  updated_at?: string;
  updated_by?: string;
}

export interface RetentionItem {
  clip_id: string;
  title: string;
  owner_id: string;
  delete_after: string;
}

export interface RetentionReport {
  ran_at: string;
  mode: string;
  deleted: RetentionItem[];
  warned: RetentionItem[];
  failed: RetentionItem[];
}

export interface ClipPrivacyInput {
  students_visible?: StudentsVisible;
  consent_on_file?: boolean;
  consent_note?: string;
  downloads_allowed?: boolean;
}

export function publicPolicy(api: Api): Promise<{ policy: PrivacyPolicy }> {
  return api.request('GET', '/privacy/policy');
}

export function adminPolicy(api: Api): Promise<{ policy: PrivacyPolicy }> {
  return api.request('GET', '/admin/privacy');
}

export function saveAdminPolicy(api: Api, p: PrivacyPolicy): Promise<{ policy: PrivacyPolicy }> {
  const { require_consent, downloads_allowed, retention } = p;
  return api.request('PUT', '/admin/privacy', { require_consent, downloads_allowed, retention });
}

export function runRetention(api: Api): Promise<RetentionReport> {
  return api.request('POST', '/admin/privacy/retention/run');
}

export function setClipPrivacy(api: Api, clipId: string, input: ClipPrivacyInput): Promise<{ clip: ClipWithPrivacy }> {
  return api.request('PUT', `/clips/${encodeURIComponent(clipId)}/privacy`, input);
}

/** keepClip moves the clip's deletion date to until (YYYY-MM-DD), or as far as allowed. */
export function keepClip(api: Api, clipId: string, until?: string): Promise<{ clip: ClipWithPrivacy }> {
  return api.request('POST', `/clips/${encodeURIComponent(clipId)}/keep`, until ? { until } : {});
}

/** isoDay is the UTC day of an RFC 3339 time, YYYY-MM-DD ('' for bad input). */
export function isoDay(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
}

/**
 * retentionWarning is what the banner shows for a clip: its deletion day
 * and whether its owner may keep it longer (until keepLimit); null when
 * the clip is not near its date.
 */
export function retentionWarning(clip: ClipWithPrivacy): { day: string; canKeep: boolean; keepLimit: string } | null {
  const r = clip.retention;
  if (!r || !r.warning) return null;
  return { day: isoDay(r.delete_after), canKeep: r.can_keep, keepLimit: isoDay(r.keep_limit) };
}

/** uploadConsentMeta is the tus metadata that records consent at upload. */
export function uploadConsentMeta(studentsVisible: StudentsVisible, consentOnFile: boolean): Record<string, string> {
  return { students_visible: studentsVisible, consent_on_file: consentOnFile ? 'true' : 'false' };
}

/** needsConsent mirrors the server's rule: the policy holds such a clip back from its audience. */
export function needsConsent(requireConsent: boolean, studentsVisible: StudentsVisible, consentOnFile: boolean): boolean {
  return requireConsent && studentsVisible !== 'no' && !consentOnFile;
}

const MONTH_DAY = /^(\d{2})-(\d{2})$/;

/**
 * policyProblems checks the policy form as the server will, so the page
 * can name the field before saving; keys are the server's field names.
 */
export function policyProblems(p: PrivacyPolicy): Record<string, 'days' | 'warnDays' | 'date' | 'maxKeep' | 'warnLonger'> {
  const out: Record<string, 'days' | 'warnDays' | 'date' | 'maxKeep' | 'warnLonger'> = {};
  const r = p.retention;
  const int = (n: number) => Number.isInteger(n);
  if (!int(r.warn_days) || r.warn_days < 0 || r.warn_days > 365) out['retention.warn_days'] = 'warnDays';
  if (r.mode === 'days') {
    if (!int(r.days) || r.days < 1 || r.days > 3650) out['retention.days'] = 'days';
    else if (!out['retention.warn_days'] && r.warn_days >= r.days) out['retention.warn_days'] = 'warnLonger';
  }
  if (r.mode === 'date') {
    const m = MONTH_DAY.exec(r.date);
    const month = m ? Number(m[1]) : 0;
    const day = m ? Number(m[2]) : 0;
    const probe = new Date(Date.UTC(2025, month - 1, day));
    if (!m || (month === 2 && day === 29) || month < 1 || month > 12 || day < 1 || probe.getUTCMonth() !== month - 1) {
      out['retention.date'] = 'date';
    }
  }
  if (r.allow_keep && (!int(r.max_keep_days) || r.max_keep_days < 1 || r.max_keep_days > 3650)) out['retention.max_keep_days'] = 'maxKeep';
  return out;
}
