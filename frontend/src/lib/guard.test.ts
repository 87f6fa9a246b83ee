import { describe, expect, it } from 'vitest';
import { redirectFor } from './guard';
import { matchRoute } from './router';

describe('redirectFor', () => {
  const cases: Array<{ path: string; setupNeeded?: boolean; signedIn: boolean; want: string | null }> = [
    { path: '/', setupNeeded: true, signedIn: false, want: '/setup' },
    { path: '/invite/t', setupNeeded: true, signedIn: false, want: '/setup' },
    { path: '/setup', setupNeeded: true, signedIn: false, want: null },
    { path: '/setup', signedIn: true, want: '/' },
    { path: '/setup', signedIn: false, want: '/signin' },
    { path: '/', signedIn: false, want: '/signin' },
    { path: '/groups/5', signedIn: false, want: '/signin?next=%2Fgroups%2F5' },
    { path: '/account', signedIn: false, want: '/signin?next=%2Faccount' },
    { path: '/signin', signedIn: false, want: null },
    { path: '/invite/t', signedIn: false, want: null },
    { path: '/invite/t', signedIn: true, want: null },
    { path: '/nowhere', signedIn: false, want: null },
    { path: '/signin', signedIn: true, want: '/' },
    { path: '/signin?next=%2Fgroups%2F5', signedIn: true, want: '/groups/5' },
    { path: '/signin?next=%2F%2Fevil.example', signedIn: true, want: '/' },
    { path: '/groups', signedIn: true, want: null },
  ];
  for (const c of cases) {
    it(`${c.path} setup=${!!c.setupNeeded} signedIn=${c.signedIn} → ${c.want}`, () => {
      const u = new URL(c.path, 'http://app.test');
      const route = matchRoute(u.pathname, u.search);
      expect(redirectFor(route, { setupNeeded: !!c.setupNeeded, signedIn: c.signedIn })).toBe(c.want);
    });
  }
});
