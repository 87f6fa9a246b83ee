import { describe, expect, it } from 'vitest';
import { formatDuration, t, tn, weekLabel, weekTick } from './i18n';

describe('t', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(t('nav.signedInAs', { name: 'Ada' })).toBe('Signed in as Ada');
    expect(t('nav.signedInAs')).toBe('Signed in as {name}');
  });
  it('picks plural forms', () => {
    expect(tn('groups.members', 1)).toBe('1 member');
    expect(tn('groups.members', 0)).toBe('0 members');
    expect(tn('groups.members', 2)).toBe('2 members');
  });
});

describe('formatDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0:00'],
    [999, '0:01'],
    [65_000, '1:05'],
    [600_000, '10:00'],
    [3_723_000, '1:02:03'],
    [-5, '0:00'],
  ];
  for (const [ms, want] of cases) {
    it(`${ms} ms → ${want}`, () => expect(formatDuration(ms)).toBe(want));
  }
});

describe('week labels', () => {
  it('names a week by its first day', () => {
    expect(weekLabel('2026-11-23T00:00:00Z', '2026-W48')).toBe('Week of Nov 23, 2026');
    expect(weekTick('2026-11-23T00:00:00Z', '2026-W48')).toBe('Nov 23');
  });
  it('falls back to the server label on a bad date', () => {
    expect(weekLabel('not a date', '2026-W48')).toBe('2026-W48');
    expect(weekTick('', '2026-W48')).toBe('2026-W48');
  });
});

describe('the clip delete dialog', () => {
  it('says the delete is permanent and what it removes', () => {
    const body = t('library.deleteBody', { title: 'Forces' });
    expect(body).toContain('“Forces” will be deleted permanently');
    for (const part of ['original video', 'thumbnails', 'captions and transcript', 'search', 'feedback and replies', 'reflection', 'goals', 'live-room history', 'cannot be undone']) {
      expect(body).toContain(part);
    }
  });
});

describe('message tables', () => {
  it('define each key in one table only', async () => {
    const tables = await Promise.all([
      import('./messages/core'),
      import('./messages/audit'),
      import('./messages/media'),
      import('./messages/coaching'),
      import('./messages/captions'),
      import('./messages/privacyControls'),
      import('./messages/redaction'),
    ]);
    const seen = new Map<string, number>();
    for (const module of tables) {
      for (const table of Object.values(module)) {
        for (const key of Object.keys(table)) seen.set(key, (seen.get(key) ?? 0) + 1);
      }
    }
    expect([...seen].filter(([, n]) => n > 1).map(([key]) => key)).toEqual([]);
  });
});
