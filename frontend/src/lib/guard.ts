// Which page may be shown to whom. Kept apart from the components as a pure
// function so every redirect rule is unit tested.

import { safeNext, type Route, type RouteName } from './router';

/** SessionState is what the guard needs to know about the visitor. */
export interface SessionState {
  /** setupNeeded is true while the server has no account at all. */
  setupNeeded: boolean;
  signedIn: boolean;
}

// Pages a signed-out visitor may open.
const PUBLIC: ReadonlySet<RouteName> = new Set(['signin', 'setup', 'invite', 'notfound']);

/**
 * redirectFor returns where to send the visitor instead of `route`, or null
 * when the page may be shown.
 */
export function redirectFor(route: Route, s: SessionState): string | null {
  if (s.setupNeeded) return route.name === 'setup' ? null : '/setup';
  if (route.name === 'setup') return s.signedIn ? '/' : '/signin';
  if (route.name === 'signin' && s.signedIn) return safeNext(route.query.get('next'));
  if (!s.signedIn && !PUBLIC.has(route.name)) {
    return route.path === '/' ? '/signin' : `/signin?next=${encodeURIComponent(route.path)}`;
  }
  return null;
}
