import { describe, expect, it } from 'vitest';
import { AUDIT_ACTIONS, actionLabel, auditCsvUrl, describeEntry, type AuditEntry } from './auditApi';

const entry = (over: Partial<AuditEntry>): AuditEntry => ({ id: '1', at: '2026-09-01T08:00:00Z', actor_id: 'u1', actor_name: 'Pat Peer', action: 'clip.view', ...over });

describe('describeEntry', () => {
  const cases: Array<[Partial<AuditEntry>, string]> = [
    [{}, 'Pat Peer viewed the clip'],
    [{ action: 'clip.download' }, 'Pat Peer downloaded the clip'],
    [{ action: 'clip.share', subject: 'Cohort G' }, 'Pat Peer shared the clip with Cohort G'],
    [{ action: 'clip.unshare', subject: 'guest@example.org' }, 'Pat Peer stopped sharing the clip with guest@example.org'],
    [{ action: 'clip.delete' }, 'Pat Peer deleted the clip'],
    [{ action: 'sign_in' }, 'Pat Peer signed in'],
    [{ action: 'sign_in_failed' }, 'Pat Peer failed to sign in'],
    [{ action: 'sign_in_failed', actor_id: '', actor_name: '', subject: 'x@example.org' }, 'A sign-in as x@example.org failed (no such account)'],
    [{ action: 'clip.retention', actor_id: '', actor_name: '' }, 'filmroom removed the clip at the end of its retention period'],
    [{ action: 'future.thing' }, 'Pat Peer: future.thing'],
  ];
  for (const [over, want] of cases) {
    it(want, () => expect(describeEntry(entry(over))).toBe(want));
  }
  it('has words for every action', () => {
    for (const a of AUDIT_ACTIONS) {
      expect(describeEntry(entry({ action: a, subject: 's' }))).not.toContain(a);
      expect(actionLabel(a)).not.toBe(a);
    }
    expect(actionLabel('future.thing')).toBe('future.thing');
  });
});

describe('auditCsvUrl', () => {
  it('keeps the filters and drops paging', () => {
    expect(auditCsvUrl({ clip: 'c/1' })).toBe('/api/v1/clips/c%2F1/audit?format=csv');
    expect(auditCsvUrl('mine')).toBe('/api/v1/me/audit?format=csv');
    expect(auditCsvUrl('site', { action: 'clip.view', actor_id: 'u1', after: 'x', limit: 5 })).toBe(
      '/api/v1/admin/audit?action=clip.view&actor_id=u1&format=csv',
    );
    expect(auditCsvUrl('site', { action: '', actor_id: '' })).toBe('/api/v1/admin/audit?format=csv');
  });
});
