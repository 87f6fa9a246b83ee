// Client-side routing over the History API. The route table maps paths to page
// names; the Router keeps the current Route and notifies subscribers (it
// follows Svelte's store contract, so components can read it as `$router`).
// The server answers index.html for unknown non-API paths, so every route
// works on reload and as a shared link.

/** RouteName names one page of the app. */
export type RouteName =
  | 'library'
  | 'signin'
  | 'setup'
  | 'groups'
  | 'group'
  | 'invite'
  | 'account'
  | 'upload'
  | 'clip'
  // coaching side
  | 'growth'
  | 'growthOf'
  | 'goals'
  | 'rubrics'
  | 'rubric'
  // privacy
  | 'audit'
  | 'privacy'
  | 'notfound';

/** ROUTES is the route table; `:name` segments become params. */
export const ROUTES: ReadonlyArray<{ name: Exclude<RouteName, 'notfound'>; pattern: string }> = [
  { name: 'library', pattern: '/' },
  { name: 'signin', pattern: '/signin' },
  { name: 'setup', pattern: '/setup' },
  { name: 'groups', pattern: '/groups' },
  { name: 'group', pattern: '/groups/:id' },
  { name: 'invite', pattern: '/invite/:token' },
  { name: 'account', pattern: '/account' },
  { name: 'upload', pattern: '/upload' },
  { name: 'clip', pattern: '/clips/:id' },
  // coaching side
  { name: 'growth', pattern: '/growth' },
  { name: 'growthOf', pattern: '/growth/:id' },
  { name: 'goals', pattern: '/goals' },
  { name: 'rubrics', pattern: '/rubrics' },
  { name: 'rubric', pattern: '/rubrics/:id' },
  // privacy
  { name: 'audit', pattern: '/admin/audit' },
  { name: 'privacy', pattern: '/admin/privacy' },
];

/** Route is the page the address points at, with its decoded params. */
export interface Route {
  name: RouteName;
  params: Readonly<Record<string, string>>;
  /** path is pathname plus search, as it should appear in links. */
  path: string;
  query: URLSearchParams;
}

interface Compiled {
  name: Exclude<RouteName, 'notfound'>;
  re: RegExp;
  keys: string[];
}

const compiled: Compiled[] = ROUTES.map(({ name, pattern }) => {
  const keys: string[] = [];
  const source = pattern
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        keys.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { name, re: new RegExp(`^${source}/?$`), keys };
});

/** matchRoute resolves a pathname (and optional search) to a Route. */
export function matchRoute(pathname: string, search = ''): Route {
  const query = new URLSearchParams(search);
  const path = pathname + (search && search !== '?' ? (search.startsWith('?') ? search : `?${search}`) : '');
  for (const c of compiled) {
    const m = c.re.exec(pathname === '' ? '/' : pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    let ok = true;
    c.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]);
      } catch {
        ok = false; // malformed %-escape: treat as no match
      }
    });
    if (ok) return { name: c.name, params, path, query };
  }
  return { name: 'notfound', params: {}, path, query };
}

/** href builds the path of a named route, encoding its params. */
export function href(name: Exclude<RouteName, 'notfound'>, params: Record<string, string> = {}): string {
  const route = ROUTES.find((r) => r.name === name);
  if (!route) throw new Error(`unknown route ${name}`);
  return route.pattern.replace(/:(\w+)/g, (_, key: string) => {
    const v = params[key];
    if (v === undefined) throw new Error(`route ${name} needs param ${key}`);
    return encodeURIComponent(v);
  });
}

/**
 * safeNext returns `next` when it is a path inside this app, otherwise
 * fallback. It keeps `?next=` from sending people to another site.
 */
export function safeNext(next: string | null | undefined, fallback = '/'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return fallback;
  if (next.startsWith('/api/')) return fallback;
  return next;
}

/** HistoryEnv is the part of window the router uses; tests pass a fake. */
export interface HistoryEnv {
  location: { pathname: string; search: string; hash: string; origin: string };
  history: {
    pushState(data: unknown, unused: string, url?: string): void;
    replaceState(data: unknown, unused: string, url?: string): void;
  };
  addEventListener(type: 'popstate', listener: () => void): void;
  removeEventListener(type: 'popstate', listener: () => void): void;
  scrollTo?(x: number, y: number): void;
}

/** ClickLike is the part of a click event the link interceptor reads. */
export interface ClickLike {
  defaultPrevented: boolean;
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  target: EventTarget | null;
  preventDefault(): void;
}

type Listener = (route: Route) => void;

/** Router owns the current route of one window. */
export class Router {
  #env: HistoryEnv;
  #current: Route;
  #listeners = new Set<Listener>();
  #onPop = () => this.#update();

  constructor(env: HistoryEnv) {
    this.#env = env;
    this.#current = matchRoute(env.location.pathname, env.location.search);
  }

  /** current is the route shown now. */
  get current(): Route {
    return this.#current;
  }

  /** start follows the browser's back and forward buttons. */
  start(): void {
    this.#env.addEventListener('popstate', this.#onPop);
  }

  stop(): void {
    this.#env.removeEventListener('popstate', this.#onPop);
  }

  /** subscribe calls fn now and on every change; it returns the unsubscribe. */
  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    fn(this.#current);
    return () => this.#listeners.delete(fn);
  }

  /**
   * navigate shows `to` (a path with optional search and hash). `replace`
   * swaps the history entry, for redirects that Back should skip.
   */
  navigate(to: string, opts: { replace?: boolean } = {}): void {
    const url = new URL(to, this.#env.location.origin);
    const target = url.pathname + url.search + url.hash;
    const now = this.#env.location.pathname + this.#env.location.search + this.#env.location.hash;
    if (opts.replace) {
      this.#env.history.replaceState(null, '', target);
    } else if (target !== now) {
      this.#env.history.pushState(null, '', target);
      this.#env.scrollTo?.(0, 0);
    }
    this.#update();
  }

  /**
   * handleClick turns clicks on same-origin links into client-side
   * navigation. Modified clicks (new tab), downloads, other targets, other
   * origins and /api/ links keep the browser's behaviour.
   */
  handleClick(event: ClickLike): void {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target as { closest?: (sel: string) => unknown } | null;
    const anchor = target?.closest?.('a[href]') as
      | { href: string; target: string; hasAttribute(name: string): boolean }
      | null
      | undefined;
    if (!anchor) return;
    if (anchor.target && anchor.target !== '_self') return;
    if (anchor.hasAttribute('download') || anchor.hasAttribute('data-native')) return;
    let url: URL;
    try {
      url = new URL(anchor.href, this.#env.location.origin);
    } catch {
      return;
    }
    if (url.origin !== this.#env.location.origin || url.pathname.startsWith('/api/')) return;
    event.preventDefault();
    this.navigate(url.pathname + url.search + url.hash);
  }

  #update(): void {
    const next = matchRoute(this.#env.location.pathname, this.#env.location.search);
    this.#current = next;
    for (const fn of this.#listeners) fn(next);
  }
}
