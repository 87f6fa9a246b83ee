// The sharing dialog mounted for real (Svelte in happy-dom) against a fake
// API: addresses the clip was shared with come back as typed (the server
// never says which have an account) and are sent again on save; the dialog
// names at most 50 people, as the server allows.

import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ShareDialog from './ShareDialog.svelte';
import { Api, MAX_AUDIENCE_PEOPLE, type Clip } from '../lib/api';
import { clipFixture } from '../lib/clipFixture';
import { appContext, type AppContext } from '../lib/context';

function setup(audience: Clip['audience']) {
  const sent: Array<Record<string, unknown>> = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    if (url.endsWith('/groups')) return json(200, { groups: [] });
    if (init.method === 'PUT' && url.endsWith('/audience')) {
      const body = JSON.parse(String(init.body));
      sent.push(body);
      return json(200, { clip: clipFixture({ id: 'c1', audience: { users: [], groups: [], emails: body.emails } }) });
    }
    return json(404, { error: { code: 'not_found', message: 'not found' } });
  });
  const saved: Clip[] = [];
  const ctx = { api: new Api({ fetch, cookies: () => '' }) } as unknown as AppContext;
  const target = document.createElement('div');
  document.body.append(target);
  const app = mount(ShareDialog, {
    target,
    context: appContext(ctx),
    props: { open: true, clip: clipFixture({ id: 'c1', title: 'Fractions', audience }), onclose: () => {}, onsaved: (c: Clip) => saved.push(c) },
  });
  flushSync();
  const input = () => target.querySelector<HTMLInputElement>('input[type="email"]')!;
  const add = (v: string) => {
    input().value = v;
    input().dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Add')!.click();
    flushSync();
  };
  const save = async () => {
    target.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect(saved.length).toBeGreaterThan(0));
  };
  return { target, sent, saved, add, save, cleanup: () => (unmount(app), target.remove()) };
}

let cleanup: (() => void) | null = null;
afterEach(() => {
  cleanup?.();
  cleanup = null;
});

describe('ShareDialog', () => {
  it('lists the addresses shared before and sends them again with new ones', async () => {
    const s = setup({ users: [{ id: 'u2', name: 'Pat Peer' }], groups: [], emails: ['nobody@example.org'] });
    cleanup = s.cleanup;
    expect(s.target.textContent).toContain('nobody@example.org');
    expect(s.target.textContent).toContain('Pat Peer');
    expect(s.target.textContent).toContain('filmroom never shows who has one');
    s.add('New.Person@Example.org');
    await s.save();
    expect(s.sent[0]).toEqual({ user_ids: ['u2'], emails: ['nobody@example.org', 'new.person@example.org'], group_ids: [] });
  });

  it(`names at most ${MAX_AUDIENCE_PEOPLE} people`, () => {
    const emails = Array.from({ length: MAX_AUDIENCE_PEOPLE - 1 }, (_, i) => `p${i}@example.org`);
    const s = setup({ users: [{ id: 'u2', name: 'Pat Peer' }], groups: [], emails });
    cleanup = s.cleanup;
    s.add('one.too.many@example.org');
    expect(s.target.textContent).toContain('Name at most 50 people here');
    expect(s.target.textContent).not.toContain('one.too.many@example.org');
  });
});
