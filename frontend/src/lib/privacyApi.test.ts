import { describe, expect, it } from 'vitest';
import type { ClipWithPrivacy, PrivacyPolicy } from './privacyApi';
import { isoDay, keepClip, needsConsent, policyProblems, retentionWarning, saveAdminPolicy, setClipPrivacy, uploadConsentMeta } from './privacyApi';
import { Api } from './api';

const policy = (r: Partial<PrivacyPolicy['retention']>): PrivacyPolicy => ({
  require_consent: false,
  downloads_allowed: false,
  retention: { mode: 'off', days: 0, date: '', warn_days: 14, allow_keep: false, max_keep_days: 0, ...r },
});

describe('policyProblems', () => {
  it('accepts the defaults and sensible policies', () => {
    expect(policyProblems(policy({}))).toEqual({});
    expect(policyProblems(policy({ mode: 'days', days: 365, warn_days: 14, allow_keep: true, max_keep_days: 90 }))).toEqual({});
    expect(policyProblems(policy({ mode: 'date', date: '07-31' }))).toEqual({});
  });
  it('names the field that is out of range', () => {
    expect(policyProblems(policy({ mode: 'days', days: 0 }))).toEqual({ 'retention.days': 'days' });
    expect(policyProblems(policy({ mode: 'days', days: 10, warn_days: 10 }))).toEqual({ 'retention.warn_days': 'warnLonger' });
    expect(policyProblems(policy({ warn_days: -1 }))).toEqual({ 'retention.warn_days': 'warnDays' });
    expect(policyProblems(policy({ allow_keep: true, max_keep_days: 0 }))).toEqual({ 'retention.max_keep_days': 'maxKeep' });
    for (const date of ['02-29', '13-01', '02-30', '7-31', '07/31', '']) {
      expect(policyProblems(policy({ mode: 'date', date }))).toEqual({ 'retention.date': 'date' });
    }
  });
});

describe('retention banner and consent', () => {
  const clip = (retention?: ClipWithPrivacy['retention']) => ({ id: 'c1', retention }) as ClipWithPrivacy;
  it('warns only inside the warning window', () => {
    expect(retentionWarning(clip())).toBeNull();
    expect(retentionWarning(clip({ delete_after: '2027-07-31T00:00:00Z', warning: false, can_keep: true }))).toBeNull();
    expect(
      retentionWarning(clip({ delete_after: '2027-07-31T00:00:00Z', warning: true, can_keep: true, keep_limit: '2027-10-29T00:00:00Z' })),
    ).toEqual({ day: '2027-07-31', canKeep: true, keepLimit: '2027-10-29' });
  });
  it('mirrors the server: unknown students need consent too', () => {
    expect(needsConsent(true, 'unknown', false)).toBe(true);
    expect(needsConsent(true, 'yes', true)).toBe(false);
    expect(needsConsent(true, 'no', false)).toBe(false);
    expect(needsConsent(false, 'yes', false)).toBe(false);
    expect(uploadConsentMeta('yes', true)).toEqual({ students_visible: 'yes', consent_on_file: 'true' });
    expect(isoDay('not a date')).toBe('');
  });
});

describe('requests', () => {
  it('sends the routes the server serves', async () => {
    const calls: Array<[string, string, string | undefined]> = [];
    const api = new Api({
      cookies: () => 'filmroom_csrf=tok',
      fetch: async (url, init) => {
        calls.push([init.method ?? '', url, init.body as string | undefined]);
        return new Response('{"clip":{"id":"c1"}}', { status: 200 });
      },
    });
    await setClipPrivacy(api, 'c 1', { consent_on_file: true });
    await keepClip(api, 'c1');
    await keepClip(api, 'c1', '2027-08-01');
    await saveAdminPolicy(api, { ...policy({}), updated_by: 'x' });
    expect(calls).toEqual([
      ['PUT', '/api/v1/clips/c%201/privacy', '{"consent_on_file":true}'],
      ['POST', '/api/v1/clips/c1/keep', '{}'],
      ['POST', '/api/v1/clips/c1/keep', '{"until":"2027-08-01"}'],
      ['PUT', '/api/v1/admin/privacy', JSON.stringify({ require_consent: false, downloads_allowed: false, retention: policy({}).retention })],
    ]);
  });
});
