import { describe, expect, it } from 'vitest';
import { PageLoader, pageOf, type PageKey, type PageLoaders } from './pages';
import { ROUTES } from './router';

function loaders(calls: PageKey[], fail: Set<PageKey> = new Set()): PageLoaders<string> {
  const keys: PageKey[] = ['setup', 'signin', 'library', 'groups', 'group', 'invite', 'account', 'upload', 'review', 'growth', 'goals', 'rubrics', 'audit', 'notfound'];
  return Object.fromEntries(
    keys.map((k) => [
      k,
      () => {
        calls.push(k);
        return fail.has(k) ? Promise.reject(new Error('chunk gone')) : Promise.resolve({ default: `page:${k}` });
      },
    ]),
  ) as PageLoaders<string>;
}

describe('pageOf', () => {
  it('maps every route to a page module', () => {
    const keys = new Set(['setup', 'signin', 'library', 'groups', 'group', 'invite', 'account', 'upload', 'review', 'growth', 'goals', 'rubrics', 'audit', 'privacy', 'notfound']);
    for (const r of ROUTES) expect(keys.has(pageOf(r.name)), r.name).toBe(true);
    expect(pageOf('clip')).toBe('review');
    expect(pageOf('growthOf')).toBe('growth');
    expect(pageOf('rubric')).toBe('rubrics');
    expect(pageOf('notfound')).toBe('notfound');
  });
});

describe('PageLoader', () => {
  it('imports each page once, even when asked twice at the same time', async () => {
    const calls: PageKey[] = [];
    const p = new PageLoader(loaders(calls));
    expect(p.get('review')).toBeUndefined();
    const [a, b] = await Promise.all([p.load('review'), p.load('review')]);
    expect(a).toBe('page:review');
    expect(b).toBe('page:review');
    expect(p.get('review')).toBe('page:review');
    await p.load('review');
    expect(calls).toEqual(['review']);
  });

  it('forgets a failed load so the next one retries', async () => {
    const calls: PageKey[] = [];
    const fail = new Set<PageKey>(['library']);
    const p = new PageLoader(loaders(calls, fail));
    await expect(p.load('library')).rejects.toThrow('chunk gone');
    p.prefetch('library'); // a failed prefetch is silent
    await Promise.resolve();
    fail.clear();
    expect(await p.load('library')).toBe('page:library');
    expect(calls.filter((k) => k === 'library').length).toBeGreaterThanOrEqual(2);
  });
});
