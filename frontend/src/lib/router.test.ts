import { describe, expect, it } from 'vitest';
import { Router, href, matchRoute, safeNext, type ClickLike, type HistoryEnv } from './router';

describe('matchRoute', () => {
  const cases: Array<{ path: string; search?: string; name: string; params?: Record<string, string> }> = [
    { path: '/', name: 'library' },
    { path: '', name: 'library' },
    { path: '/signin', name: 'signin' },
    { path: '/signin/', name: 'signin' },
    { path: '/setup', name: 'setup' },
    { path: '/groups', name: 'groups' },
    { path: '/groups/42', name: 'group', params: { id: '42' } },
    { path: '/groups/a%20b', name: 'group', params: { id: 'a b' } },
    { path: '/groups/42/extra', name: 'notfound' },
    { path: '/invite/tok_ABC-123', name: 'invite', params: { token: 'tok_ABC-123' } },
    { path: '/invite/%E0%A4%A', name: 'notfound' },
    { path: '/account', name: 'account' },
    { path: '/nowhere', name: 'notfound' },
    { path: '/Groups', name: 'notfound' },
  ];
  for (const c of cases) {
    it(`${c.path || '(empty)'} → ${c.name}`, () => {
      const r = matchRoute(c.path, c.search);
      expect(r.name).toBe(c.name);
      expect(r.params).toEqual(c.params ?? {});
    });
  }

  it('keeps the query', () => {
    const r = matchRoute('/signin', '?next=%2Fgroups%2F1');
    expect(r.query.get('next')).toBe('/groups/1');
    expect(r.path).toBe('/signin?next=%2Fgroups%2F1');
  });
});

describe('href', () => {
  it('builds and encodes', () => {
    expect(href('groups')).toBe('/groups');
    expect(href('group', { id: 'a/b' })).toBe('/groups/a%2Fb');
    expect(href('invite', { token: 't1' })).toBe('/invite/t1');
  });
  it('rejects a missing param', () => {
    expect(() => href('group')).toThrow(/needs param id/);
  });
});

describe('safeNext', () => {
  const cases: Array<[string | null, string]> = [
    [null, '/'],
    ['', '/'],
    ['/groups/1', '/groups/1'],
    ['/invite/t?x=1', '/invite/t?x=1'],
    ['//evil.example', '/'],
    ['/\\evil.example', '/'],
    ['https://evil.example/', '/'],
    ['javascript:alert(1)', '/'],
    ['/api/v1/me', '/'],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want}`, () => expect(safeNext(input)).toBe(want));
  }
});

/** fakeWindow is a minimal History API: enough to drive the Router. */
function fakeWindow(start = '/') {
  const url = new URL(start, 'http://app.test');
  const listeners = new Set<() => void>();
  const log: string[] = [];
  const entries = [url.pathname + url.search + url.hash];
  let index = 0;
  const location = {
    pathname: url.pathname,
    search: url.search,
    hash: url.hash,
    origin: url.origin,
  };
  const go = (to: string) => {
    const u = new URL(to, url.origin);
    location.pathname = u.pathname;
    location.search = u.search;
    location.hash = u.hash;
  };
  const env: HistoryEnv = {
    location,
    history: {
      pushState(_d, _u, to) {
        entries.splice(index + 1, entries.length, String(to));
        index++;
        log.push(`push ${to}`);
        go(String(to));
      },
      replaceState(_d, _u, to) {
        entries[index] = String(to);
        log.push(`replace ${to}`);
        go(String(to));
      },
    },
    addEventListener: (_t, fn) => listeners.add(fn),
    removeEventListener: (_t, fn) => listeners.delete(fn),
  };
  const back = () => {
    index--;
    go(entries[index]);
    for (const fn of listeners) fn();
  };
  return { env, log, back, listeners };
}

function click(anchor: Record<string, unknown> | null, overrides: Partial<ClickLike> = {}) {
  let prevented = false;
  const a = anchor && {
    target: '',
    hasAttribute: (n: string) => n in ((anchor.attrs as object) ?? {}),
    ...anchor,
  };
  const event: ClickLike = {
    defaultPrevented: false,
    button: 0,
    metaKey: false,
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    target: { closest: () => a } as unknown as EventTarget,
    preventDefault: () => (prevented = true),
    ...overrides,
  };
  return { event, prevented: () => prevented };
}

describe('Router', () => {
  it('notifies subscribers now and on navigation', () => {
    const { env, log } = fakeWindow('/groups');
    const router = new Router(env);
    const seen: string[] = [];
    const stop = router.subscribe((r) => seen.push(r.name));
    router.navigate('/groups/7');
    router.navigate('/signin?next=%2F', { replace: true });
    stop();
    router.navigate('/account');
    expect(seen).toEqual(['groups', 'group', 'signin']);
    expect(log).toEqual(['push /groups/7', 'replace /signin?next=%2F', 'push /account']);
    expect(router.current.name).toBe('account');
  });

  it('does not push a duplicate entry for the current path', () => {
    const { env, log } = fakeWindow('/groups');
    const router = new Router(env);
    router.navigate('/groups');
    expect(log).toEqual([]);
  });

  it('follows the back button once started', () => {
    const { env, back, listeners } = fakeWindow('/');
    const router = new Router(env);
    router.start();
    router.navigate('/groups');
    back();
    expect(router.current.name).toBe('library');
    router.stop();
    expect(listeners.size).toBe(0);
  });

  const clickCases: Array<{
    name: string;
    anchor: Record<string, unknown> | null;
    overrides?: Partial<ClickLike>;
    handled: boolean;
    to?: string;
  }> = [
    { name: 'same-origin link', anchor: { href: 'http://app.test/groups/3?x=1' }, handled: true, to: 'group' },
    { name: 'relative link', anchor: { href: '/account' }, handled: true, to: 'account' },
    { name: 'other origin', anchor: { href: 'https://example.org/' }, handled: false },
    { name: 'api link', anchor: { href: 'http://app.test/api/v1/export' }, handled: false },
    { name: 'new tab target', anchor: { href: '/groups', target: '_blank' }, handled: false },
    { name: 'download', anchor: { href: '/groups', attrs: { download: '' } }, handled: false },
    { name: 'native opt-out', anchor: { href: '#main', attrs: { 'data-native': '' } }, handled: false },
    { name: 'ctrl click', anchor: { href: '/groups' }, overrides: { ctrlKey: true }, handled: false },
    { name: 'middle button', anchor: { href: '/groups' }, overrides: { button: 1 }, handled: false },
    { name: 'already handled', anchor: { href: '/groups' }, overrides: { defaultPrevented: true }, handled: false },
    { name: 'not a link', anchor: null, handled: false },
  ];
  for (const c of clickCases) {
    it(`click: ${c.name}`, () => {
      const { env } = fakeWindow('/');
      const router = new Router(env);
      const { event, prevented } = click(c.anchor, c.overrides);
      router.handleClick(event);
      expect(prevented()).toBe(c.handled);
      expect(router.current.name).toBe(c.handled ? c.to : 'library');
    });
  }
});
