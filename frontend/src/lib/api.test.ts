import { describe, expect, it } from 'vitest';
import { Api, ApiError, CSRF_HEADER, errorFromResponse, isApiError, readCookie, sentence } from './api';

interface Call {
  url: string;
  init: RequestInit;
}

/** recorder returns an Api whose fetch records calls and answers with respond. */
function recorder(respond: (call: Call) => Response | Promise<Response>, cookies = '') {
  const calls: Call[] = [];
  const unauthorized: ApiError[] = [];
  const api = new Api({
    fetch: async (url, init) => {
      const call = { url, init };
      calls.push(call);
      return respond(call);
    },
    cookies: () => cookies,
    onUnauthorized: (err) => unauthorized.push(err),
  });
  return { api, calls, unauthorized };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const headersOf = (call: Call) => call.init.headers as Record<string, string>;

describe('readCookie', () => {
  const cases: Array<{ name: string; header: string; want: string | null }> = [
    { name: 'only cookie', header: 'filmroom_csrf=abc', want: 'abc' },
    { name: 'among others', header: 'a=1; filmroom_csrf=tok-123; b=2', want: 'tok-123' },
    { name: 'percent-encoded', header: 'filmroom_csrf=a%2Bb%3D', want: 'a+b=' },
    { name: 'prefix of another name', header: 'xfilmroom_csrf=no; filmroom_csrf_old=no', want: null },
    { name: 'value with =', header: 'filmroom_csrf=ab==', want: 'ab==' },
    { name: 'bad escape kept raw', header: 'filmroom_csrf=%E0%A4%A', want: '%E0%A4%A' },
    { name: 'absent', header: '', want: null },
  ];
  for (const c of cases) {
    it(c.name, () => expect(readCookie(c.header, 'filmroom_csrf')).toBe(c.want));
  }
});

describe('Api CSRF header', () => {
  const cases: Array<{ name: string; call: (api: Api) => Promise<unknown>; method: string; csrf: boolean }> = [
    { name: 'GET sends no token', call: (a) => a.groups(), method: 'GET', csrf: false },
    { name: 'POST sends token', call: (a) => a.createGroup('g', ''), method: 'POST', csrf: true },
    { name: 'PATCH sends token', call: (a) => a.updateMember('g1', 'u1', 'coach'), method: 'PATCH', csrf: true },
    { name: 'DELETE sends token', call: (a) => a.removeMember('g1', 'u1'), method: 'DELETE', csrf: true },
    { name: 'logout sends token', call: (a) => a.logout(), method: 'POST', csrf: true },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { api, calls } = recorder(() => json(200, { groups: [], group: {} }), 'other=1; filmroom_csrf=s3cr%2Bt');
      await c.call(api);
      expect(calls).toHaveLength(1);
      expect(calls[0].init.method).toBe(c.method);
      expect(calls[0].init.credentials).toBe('same-origin');
      expect(headersOf(calls[0])[CSRF_HEADER]).toBe(c.csrf ? 's3cr+t' : undefined);
    });
  }

  it('omits the header when the cookie is missing', async () => {
    const { api, calls } = recorder(() => json(201, { group: {} }));
    await api.createGroup('g', '');
    expect(headersOf(calls[0])).not.toHaveProperty(CSRF_HEADER);
  });
});

describe('Api requests', () => {
  it('sends JSON bodies with the contract field names', async () => {
    const { api, calls } = recorder(() => new Response(null, { status: 204 }), 'filmroom_csrf=t');
    const res = await api.changePassword('old pass', 'new pass');
    expect(res).toBeUndefined();
    expect(calls[0].url).toBe('/api/v1/me/password');
    expect(headersOf(calls[0])['Content-Type']).toBe('application/json');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({
      current_password: 'old pass',
      new_password: 'new pass',
    });
  });

  it('encodes path segments and query parameters', async () => {
    const { api, calls } = recorder(() => json(200, { clips: [] }));
    await api.invitation('a/b c');
    await api.clips('shared', 'g 1');
    expect(calls[0].url).toBe('/api/v1/invitations/a%2Fb%20c');
    expect(calls[1].url).toBe('/api/v1/clips?scope=shared&group_id=g+1');
  });

  it('leaves out optional invitation fields', async () => {
    const { api, calls } = recorder(() => json(201, { invitation: {} }));
    await api.createInvitation('g1', { role: 'peer' });
    await api.createInvitation('g1', { role: 'coach', email: 'c@x.org', expires_in_hours: 24 });
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ role: 'peer' });
    expect(JSON.parse(String(calls[1].init.body))).toEqual({ role: 'coach', email: 'c@x.org', expires_in_hours: 24 });
  });

  it('accepts an invitation with an empty object when signed in', async () => {
    const { api, calls } = recorder(() => json(200, { user: {}, group_id: 'g1' }));
    await api.acceptInvitation('tok');
    expect(calls[0].init.body).toBe('{}');
  });

  it('prefixes a base URL without doubling slashes', async () => {
    const calls: string[] = [];
    const api = new Api({
      baseUrl: 'http://127.0.0.1:8080/',
      fetch: async (url) => {
        calls.push(url);
        return json(200, { needed: false });
      },
      cookies: () => '',
    });
    expect(await api.setupStatus()).toEqual({ needed: false });
    expect(calls).toEqual(['http://127.0.0.1:8080/api/v1/setup']);
  });
});

describe('Api error mapping', () => {
  const cases: Array<{
    name: string;
    response: () => Response;
    status: number;
    code: string;
    message: string | RegExp;
    fields?: Record<string, string>;
  }> = [
    {
      name: 'contract error with fields',
      response: () =>
        json(422, {
          error: { code: 'invalid_input', message: 'Check the form.', fields: { email: 'Already in use.', n: 3 } },
        }),
      status: 422,
      code: 'invalid_input',
      message: 'Check the form.',
      fields: { email: 'Already in use.' },
    },
    {
      name: 'invalid credentials',
      response: () => json(401, { error: { code: 'invalid_credentials', message: 'Wrong email or password.' } }),
      status: 401,
      code: 'invalid_credentials',
      message: 'Wrong email or password.',
    },
    {
      name: 'rate limited without message',
      response: () => json(429, { error: { code: 'too_many_attempts' } }),
      status: 429,
      code: 'too_many_attempts',
      message: /Too many attempts/,
    },
    {
      name: 'HTML from a proxy',
      response: () => new Response('<h1>Bad gateway</h1>', { status: 502 }),
      status: 502,
      code: 'http_502',
      message: /server/,
    },
    {
      name: 'JSON without error object',
      response: () => json(404, { nope: true }),
      status: 404,
      code: 'http_404',
      message: /could not be found/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const err = await errorFromResponse(c.response());
      expect(err).toBeInstanceOf(ApiError);
      expect(err.status).toBe(c.status);
      expect(err.code).toBe(c.code);
      expect(err.message).toMatch(c.message);
      expect(err.fields).toEqual(c.fields ?? {});
    });
  }

  it('throws ApiError from client calls', async () => {
    const { api } = recorder(() => json(410, { error: { code: 'invitation_expired', message: 'Expired.' } }));
    const err = await api.invitation('t').catch((e: unknown) => e);
    expect(isApiError(err, 'invitation_expired')).toBe(true);
    expect(isApiError(err, 'other')).toBe(false);
  });

  it('maps a network failure to status 0', async () => {
    const { api } = recorder(() => Promise.reject(new TypeError('Failed to fetch')));
    const err = await api.groups().catch((e: unknown) => e);
    expect(isApiError(err, 'network_error')).toBe(true);
    expect((err as ApiError).status).toBe(0);
  });

  it('maps an unreadable success body to bad_response', async () => {
    const { api } = recorder(() => new Response('not json', { status: 200 }));
    const err = await api.groups().catch((e: unknown) => e);
    expect(isApiError(err, 'bad_response')).toBe(true);
  });

  it('reports an ended session only for calls that need one', async () => {
    const body = { error: { code: 'unauthorized', message: 'Sign in.' } };
    const { api, unauthorized } = recorder(() => json(401, body));
    await api.groups().catch(() => {});
    expect(unauthorized).toHaveLength(1);
    await api.me().catch(() => {});
    await api.login('a@b.c', 'x').catch(() => {});
    await api.invitation('t').catch(() => {});
    expect(unauthorized).toHaveLength(1);
  });
});

describe('sentence', () => {
  const cases: Array<[string, string]> = [
    ['the email or password is not right; check both and try again', 'The email or password is not right; check both and try again.'],
    ['Already a sentence.', 'Already a sentence.'],
    ['is this right?', 'Is this right?'],
    ['  padded  ', 'Padded.'],
    ['', ''],
  ];
  for (const [input, want] of cases) {
    it(JSON.stringify(input), () => expect(sentence(input)).toBe(want));
  }
});
