// The account page's sessions and tokens cards mounted for real (Svelte in
// happy-dom) over the real API client with a scripted fetch: the list marks
// this browser, each other browser has a labelled "Sign out", "Sign out
// everywhere else" posts once and reports what ended; tokens are created
// with a scope and an expiry, and the list shows both, expired ones marked.

import { mount, tick, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, type ApiToken, type SessionInfo } from '../lib/api';
import SessionsCard from './SessionsCard.svelte';
import TokensCard from './TokensCard.svelte';

interface Call {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

const json = (status: number, body?: unknown) =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

function scripted(routes: Record<string, (call: Call) => Response>) {
  const calls: Call[] = [];
  const api = new Api({
    cookies: () => 'filmroom_csrf=csrf-1',
    fetch: async (url, init) => {
      const call: Call = {
        method: init.method ?? 'GET',
        path: url.replace(/^.*\/api\/v1/, ''),
        body: init.body ? JSON.parse(String(init.body)) : undefined,
        headers: init.headers as Record<string, string>,
      };
      calls.push(call);
      const route = routes[`${call.method} ${call.path}`];
      return route ? route(call) : json(404, { error: { code: 'not_found', message: 'no route' } });
    },
  });
  return { api, calls };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

function show(component: typeof SessionsCard | typeof TokensCard, props: Record<string, unknown>) {
  const target = document.createElement('div');
  document.body.append(target);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const app = mount(component as any, { target, props });
  cleanup = () => {
    unmount(app);
    target.remove();
  };
  return target;
}

const session = (over: Partial<SessionInfo>): SessionInfo => ({
  id: 's1',
  created_at: '2026-09-01T08:00:00Z',
  last_seen_at: '2026-09-02T08:00:00Z',
  expires_at: '2026-10-01T08:00:00Z',
  user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  client_ip: '192.0.2.1',
  current: false,
  ...over,
});

const buttons = (el: Element) => [...el.querySelectorAll('button')];

/**
 * choose selects an option as a person would. Svelte's select binding reads
 * the chosen option with `:checked`, which happy-dom does not match on
 * options, so this select answers that one query with its selected option.
 */
function choose(select: HTMLSelectElement, value: string) {
  const query = select.querySelector.bind(select);
  select.querySelector = ((q: string) => (q === ':checked' ? (select.selectedOptions[0] ?? null) : query(q))) as typeof select.querySelector;
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
}

describe('SessionsCard', () => {
  it('marks this browser and signs another out with a labelled button', async () => {
    const { api, calls } = scripted({
      'GET /me/sessions': () =>
        json(200, {
          sessions: [
            session({ id: 'here', current: true }),
            session({ id: 'phone', user_agent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Version/17.5 Mobile/15E148 Safari/604.1', client_ip: '198.51.100.7' }),
          ],
        }),
      'DELETE /me/sessions/phone': () => json(204),
    });
    const el = show(SessionsCard, { api });
    await vi.waitFor(() => expect(el.querySelectorAll('li')).toHaveLength(2));
    const [here, phone] = [...el.querySelectorAll('li')];
    expect(here.textContent).toContain('This browser');
    expect(here.querySelector('button')).toBeNull(); // this browser signs out with the page's own button
    expect(phone.textContent).toContain('Safari on iPhone');
    expect(phone.textContent).toContain('from 198.51.100.7');
    const signOut = phone.querySelector('button')!;
    expect(signOut.textContent).toBe('Sign out');
    expect(signOut.getAttribute('aria-label')).toMatch(/^Sign out Safari on iPhone, last active /);
    signOut.click();
    await vi.waitFor(() => expect(el.querySelectorAll('li')).toHaveLength(1));
    const del = calls.find((c) => c.method === 'DELETE')!;
    expect(del.path).toBe('/me/sessions/phone');
    expect(del.headers['X-CSRF-Token']).toBe('csrf-1');
  });

  it('signs out everywhere else once, says what ended and tells the page', async () => {
    const onrevoked = vi.fn();
    const { api, calls } = scripted({
      'GET /me/sessions': () => json(200, { sessions: [session({ id: 'here', current: true }), session({ id: 'a' }), session({ id: 'b' })] }),
      'POST /me/sessions/revoke-others': () => json(200, { revoked: { sessions: 2, tokens: 3 } }),
    });
    const el = show(SessionsCard, { api, onrevoked });
    await vi.waitFor(() => expect(el.querySelectorAll('li')).toHaveLength(3));
    const everywhere = buttons(el).find((b) => b.textContent?.trim() === 'Sign out everywhere else')!;
    everywhere.click();
    everywhere.click(); // a double click sends one request
    await vi.waitFor(() => expect(el.textContent).toContain('Signed out 2 other sessions and revoked 3 API tokens.'));
    expect(calls.filter((c) => c.path === '/me/sessions/revoke-others')).toHaveLength(1);
    expect(el.querySelectorAll('li')).toHaveLength(1);
    expect(el.querySelector('[role="status"]')).not.toBeNull();
    expect(onrevoked).toHaveBeenCalledOnce();
  });
});

const token = (over: Partial<ApiToken>): ApiToken => ({
  id: 't1',
  name: 'nightly export',
  scope: 'read',
  created_at: '2026-09-01T08:00:00Z',
  expires_at: '2026-12-01T12:00:00Z',
  expired: false,
  last_used_at: null,
  ...over,
});

describe('TokensCard', () => {
  it('creates a token with the chosen scope and expiry and shows its secret once', async () => {
    const { api, calls } = scripted({
      'GET /me/tokens': () => json(200, { tokens: [] }),
      'POST /me/tokens': (c) => {
        const b = c.body as { name: string; scope: ApiToken['scope'] };
        return json(201, { token: token({ id: 't2', name: b.name, scope: b.scope, token: 'frt_secret' }) });
      },
    });
    const el = show(TokensCard, { api });
    await vi.waitFor(() => expect(el.textContent).toContain('You have no API tokens.'));
    const byLabel = (text: string) => {
      const label = [...el.querySelectorAll('label')].find((l) => l.textContent?.replace('*', '').trim() === text)!;
      return el.querySelector<HTMLInputElement | HTMLSelectElement>(`#${CSS.escape(label.htmlFor)}`)!;
    };
    const scope = byLabel('Access') as HTMLSelectElement;
    const expiry = byLabel('Expires after') as HTMLSelectElement;
    expect([...scope.options].map((o) => o.textContent)).toEqual(['Read only', 'Upload recordings', 'Full access']);
    expect([...expiry.options].map((o) => o.value)).toEqual(['7', '30', '90', '365']);
    expect(expiry.value).toBe('90');

    const name = byLabel('Token name') as HTMLInputElement;
    name.value = 'camera sync';
    name.dispatchEvent(new Event('input', { bubbles: true }));
    choose(scope, 'upload');
    choose(expiry, '30');
    await tick();
    el.querySelector('form')!.requestSubmit();
    await vi.waitFor(() => expect((byLabel('New token') as HTMLInputElement)?.value).toBe('frt_secret'));
    expect(calls.find((c) => c.method === 'POST')!.body).toEqual({ name: 'camera sync', scope: 'upload', expires_in_days: 30 });
    const row = el.querySelector('li')!;
    expect(row.textContent).toContain('camera sync');
    expect(row.textContent).toContain('Upload recordings');
    expect(row.textContent).not.toContain('frt_secret');
  });

  it('shows scope and expiry in the list, marks expired tokens and revokes with a labelled button', async () => {
    const { api, calls } = scripted({
      'GET /me/tokens': () =>
        json(200, { tokens: [token({ id: 'old', name: 'old script', scope: 'full', expired: true, expires_at: '2026-01-01T12:00:00Z' }), token({ id: 'new' })] }),
      'DELETE /me/tokens/old': () => json(204),
    });
    const el = show(TokensCard, { api });
    await vi.waitFor(() => expect(el.querySelectorAll('li')).toHaveLength(2));
    const [old, fresh] = [...el.querySelectorAll('li')];
    expect(old.textContent).toContain('Full access');
    expect(old.textContent).toContain('Expired');
    expect(old.textContent).toMatch(/Expired Jan 1, 2026/);
    expect(fresh.textContent).toContain('Read only');
    expect(fresh.textContent).toMatch(/expires Dec 1, 2026/);
    expect(fresh.textContent).not.toContain('Expired');
    const revoke = old.querySelector('button')!;
    expect(revoke.getAttribute('aria-label')).toBe('Revoke token old script');
    revoke.click();
    await vi.waitFor(() => expect(el.querySelectorAll('li')).toHaveLength(1));
    expect(calls.some((c) => c.method === 'DELETE' && c.path === '/me/tokens/old')).toBe(true);
  });
});
