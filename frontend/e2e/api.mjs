// API helpers shared by the end-to-end scenarios: requests made with a
// browser context's session cookie and CSRF token, and a small tus client
// for putting a clip on the server quickly.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

/**
 * apiFor returns call, json and tusUpload bound to the server whose base
 * URL baseURL() returns (the server starts after the module loads).
 */
export function apiFor(baseURL) {
  /** call makes an API request with a context's session cookie and CSRF token. */
  async function call(context, method, path, data, headers = {}) {
    const csrf = (await context.cookies()).find((c) => c.name === 'filmroom_csrf')?.value ?? '';
    return context.request.fetch(baseURL() + path, {
      method,
      data,
      headers: { 'X-CSRF-Token': csrf, Origin: baseURL(), ...headers },
    });
  }

  async function json(context, method, path, data, want = [200, 201]) {
    const res = await call(context, method, path, data);
    const text = await res.text();
    assert.ok(want.includes(res.status()), `${method} ${path}: ${res.status()} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  /** tusUpload sends a file with the tus 1.0 protocol in two PATCH requests. */
  async function tusUpload(context, file, meta) {
    const body = await readFile(file);
    const enc = (s) => Buffer.from(s).toString('base64');
    const metadata = Object.entries(meta).map(([k, v]) => `${k} ${enc(v)}`).join(',');
    const create = await call(context, 'POST', '/api/v1/uploads', undefined, {
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(body.length),
      'Upload-Metadata': metadata,
    });
    assert.equal(create.status(), 201, await create.text());
    const location = new URL(create.headers().location, baseURL()).pathname;
    const half = Math.floor(body.length / 2);
    for (const [from, to] of [[0, half], [half, body.length]]) {
      const res = await call(context, 'PATCH', location, body.subarray(from, to), {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(from),
        'Content-Type': 'application/offset+octet-stream',
      });
      assert.equal(res.status(), 204, await res.text());
    }
  }

  return { call, json, tusUpload };
}
