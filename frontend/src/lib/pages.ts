// Page code is split by route: each page component is its own chunk, loaded
// when the address first points at it (or when the pointer or focus reaches a
// link to it), so opening one page never downloads the others. PageLoader
// keeps the loaded components and the loads in flight; App.svelte owns the
// table of dynamic imports (Vite only splits literal import() calls).

import type { RouteName } from './router';

/** PageKey names one page module; several routes may share one. */
export type PageKey =
  | 'setup'
  | 'signin'
  | 'library'
  | 'groups'
  | 'group'
  | 'invite'
  | 'account'
  | 'upload'
  | 'review'
  | 'growth'
  | 'goals'
  | 'rubrics'
  | 'audit'
  | 'privacy'
  | 'notfound';

/** pageOf maps a route to the module that draws it. */
export function pageOf(route: RouteName): PageKey {
  switch (route) {
    case 'clip':
      return 'review';
    case 'growthOf':
      return 'growth';
    case 'rubric':
      return 'rubrics';
    default:
      return route;
  }
}

/** PageModule is what a page's dynamic import resolves to. */
export interface PageModule<C> {
  default: C;
}

/** PageLoaders holds one dynamic import per page module. */
export type PageLoaders<C> = Record<PageKey, () => Promise<PageModule<C>>>;

/**
 * PageLoader loads each page module once. A failed load (a dropped network,
 * or a deploy that replaced the chunk) is forgotten, so asking again retries.
 */
export class PageLoader<C> {
  #loaders: PageLoaders<C>;
  #loaded = new Map<PageKey, C>();
  #inflight = new Map<PageKey, Promise<C>>();

  constructor(loaders: PageLoaders<C>) {
    this.#loaders = loaders;
  }

  /** get returns the page's component if it is loaded already. */
  get(key: PageKey): C | undefined {
    return this.#loaded.get(key);
  }

  /** load resolves to the page's component, importing it at most once at a time. */
  load(key: PageKey): Promise<C> {
    const done = this.#loaded.get(key);
    if (done !== undefined) return Promise.resolve(done);
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#loaders[key]().then(
        (m) => {
          this.#loaded.set(key, m.default);
          this.#inflight.delete(key);
          return m.default;
        },
        (err: unknown) => {
          this.#inflight.delete(key);
          throw err;
        },
      );
      this.#inflight.set(key, p);
    }
    return p;
  }

  /** prefetch starts a load and ignores its outcome (a later load reports it). */
  prefetch(key: PageKey): void {
    this.load(key).catch(() => {});
  }
}
