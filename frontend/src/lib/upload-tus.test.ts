import { describe, expect, it } from 'vitest';
import { classify, newestFirst, serverMessage } from './upload-tus';

describe('tus errors', () => {
  it.each([
    { status: 0, retriable: true, msg: /reach the server/ },
    { status: 500, retriable: true, msg: /reach the server/ },
    { status: 502, retriable: true, msg: /reach the server/ },
    { status: 409, retriable: true, msg: /reach the server/ },
    { status: 423, retriable: true, msg: /reach the server/ },
    { status: 429, retriable: true, msg: /reach the server/ },
    { status: 401, retriable: false, msg: /session has ended/ },
    { status: 413, retriable: false, msg: /larger than this server accepts/ },
  ])('HTTP $status', ({ status, retriable, msg }) => {
    const e = classify(status, '');
    expect(e.retriable).toBe(retriable);
    expect(e.message).toMatch(msg);
  });

  it('shows the server’s own words for validation failures', () => {
    const e = classify(415, 'ERR_UNSUPPORTED_TYPE: "notes.pdf" is not a video or audio file; upload a lesson recording\n');
    expect(e).toEqual({ retriable: false, message: '"notes.pdf" is not a video or audio file; upload a lesson recording.' });
    expect(classify(403, 'you can only share an upload with a group you belong to').message).toBe(
      'You can only share an upload with a group you belong to.',
    );
    expect(classify(400, '').message).toMatch(/Something went wrong/);
  });

  it('reads tusd bodies', () => {
    expect(serverMessage('ERR_MAX_SIZE_EXCEEDED: maximum size exceeded\n')).toBe('Maximum size exceeded.');
    expect(serverMessage('')).toBe('');
    expect(serverMessage('{"error":{"code":"forbidden","message":"you may not upload"}}')).toBe('You may not upload.');
    expect(serverMessage('{"error":{}}')).toBe('');
    expect(serverMessage('{not json')).toBe('');
  });

  it('orders previous uploads newest first', () => {
    const p = (creationTime: string) => ({ size: 1, metadata: {}, creationTime, urlStorageKey: creationTime, uploadUrl: 'u', parallelUploadUrls: null });
    expect(newestFirst([p('2026-01-01T00:00:00Z'), p('2026-03-01T00:00:00Z'), p('2026-02-01T00:00:00Z')]).map((x) => x.creationTime)).toEqual([
      '2026-03-01T00:00:00Z',
      '2026-02-01T00:00:00Z',
      '2026-01-01T00:00:00Z',
    ]);
  });
});
