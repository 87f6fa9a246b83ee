import { describe, expect, it } from 'vitest';
import { Api, type User } from './api';
import { Session } from './session.svelte';

const ada: User = { id: 'u1', email: 'ada@school.test', name: 'Ada', admin: true };

/** apiAnswering returns an Api whose server answers each path from `routes`. */
function apiAnswering(routes: Record<string, () => Response | Promise<Response>>) {
  const asked: string[] = [];
  const api = new Api({
    cookies: () => '',
    fetch: async (url) => {
      const path = url.replace('/api/v1', '');
      asked.push(path);
      const answer = routes[path];
      if (!answer) throw new Error(`unexpected call ${path}`);
      return answer();
    },
  });
  return { api, asked };
}

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status });

describe('Session.load', () => {
  it('asks for setup and skips /me on an empty server', async () => {
    const { api, asked } = apiAnswering({ '/setup': () => json(200, { needed: true }) });
    const s = new Session(api);
    await s.load();
    expect(s.ready).toBe(true);
    expect(s.setupNeeded).toBe(true);
    expect(s.user).toBeNull();
    expect(asked).toEqual(['/setup']);
  });

  it('knows the signed-in person', async () => {
    const { api } = apiAnswering({
      '/setup': () => json(200, { needed: false }),
      '/me': () => json(200, { user: ada }),
    });
    const s = new Session(api);
    await s.load();
    expect(s.user).toEqual(ada);
    expect(s.loadError).toBeNull();
  });

  it('treats 401 from /me as signed out, not as an error', async () => {
    const { api } = apiAnswering({
      '/setup': () => json(200, { needed: false }),
      '/me': () => json(401, { error: { code: 'unauthorized', message: 'please sign in' } }),
    });
    const s = new Session(api);
    await s.load();
    expect(s.user).toBeNull();
    expect(s.loadError).toBeNull();
    expect(s.ready).toBe(true);
  });

  it('records an unreachable server and recovers on retry', async () => {
    let up = false;
    const { api } = apiAnswering({
      '/setup': () => (up ? json(200, { needed: false }) : Promise.reject(new TypeError('Failed to fetch'))),
      '/me': () => json(200, { user: ada }),
    });
    const s = new Session(api);
    await s.load();
    expect(s.ready).toBe(true);
    expect(s.loadError?.code).toBe('network_error');
    up = true;
    await s.load();
    expect(s.loadError).toBeNull();
    expect(s.user).toEqual(ada);
  });

  it('signedIn ends setup mode and signedOut forgets the person', () => {
    const s = new Session(new Api({ cookies: () => '', fetch: () => Promise.reject(new Error('unused')) }));
    s.setupNeeded = true;
    s.signedIn(ada);
    expect(s.setupNeeded).toBe(false);
    expect(s.user).toEqual(ada);
    s.signedOut();
    expect(s.user).toBeNull();
  });
});
