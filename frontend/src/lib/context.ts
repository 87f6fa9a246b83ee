// Typed access to the app-wide objects that App.svelte provides with
// setContext. Pages get them here instead of importing module singletons, so
// there is no global mutable state and tests can mount pages with their own.

import { getContext, setContext } from 'svelte';
import type { Api } from './api';
import type { Router } from './router';
import type { Session } from './session.svelte';

const KEY = Symbol('filmroom');

/** AppContext holds the objects every page may use. */
export interface AppContext {
  api: Api;
  router: Router;
  session: Session;
}

/** provideApp makes ctx available to the calling component's children. */
export function provideApp(ctx: AppContext): void {
  setContext(KEY, ctx);
}

/** useApp returns the AppContext; call it during component initialisation. */
export function useApp(): AppContext {
  const ctx = getContext<AppContext | undefined>(KEY);
  if (!ctx) throw new Error('useApp called outside <App>');
  return ctx;
}

/** appContext is ctx as the context map of svelte's mount (for tests that mount one component). */
export function appContext(ctx: AppContext): Map<unknown, unknown> {
  return new Map<unknown, unknown>([[KEY, ctx]]);
}
