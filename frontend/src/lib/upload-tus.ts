// The tus 1.0 transfer behind the upload queue, with tus-js-client. It
// sends the CSRF header on every request (the endpoint is cookie
// authenticated), stores each upload's URL under the file's fingerprint so a
// reloaded tab resumes when the same file is picked again, retries network
// trouble with backoff, and turns the server's plain-text errors into
// messages for people.

import { defaultOptions, Upload, type DetailedError, type HttpRequest, type HttpResponse, type PreviousUpload } from 'tus-js-client';
import { CSRF_COOKIE, CSRF_HEADER, readCookie, sentence } from './api';
import { t } from './i18n';
import { DEFAULT_CHUNK_SIZE, type TransferError, type TransferFactory } from './upload';

/** UPLOAD_ENDPOINT is where the server creates tus uploads (POST, no trailing slash). */
export const UPLOAD_ENDPOINT = '/api/v1/uploads';

/**
 * serverMessage extracts the message of an error body as a sentence: tusd's
 * plain "ERR_CODE: message", or the API's JSON error shape (answered by the
 * router before tus sees the request).
 */
export function serverMessage(body: string): string {
  const text = body.trim();
  if (text.startsWith('{')) {
    try {
      const msg = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
      return typeof msg === 'string' ? sentence(msg) : '';
    } catch {
      return '';
    }
  }
  const line = text.split('\n')[0] ?? '';
  return sentence(line.replace(/^ERR_[A-Z_]+:\s*/, ''));
}

/** classify turns a tus-js-client error into a queue error. */
export function classify(status: number, body: string): TransferError {
  if (status === 0 || status >= 500 || status === 409 || status === 423 || status === 429) {
    return { retriable: true, message: t('upload.error.network') };
  }
  if (status === 401) return { retriable: false, message: t('error.unauthorized') };
  if (status === 413) return { retriable: false, message: t('upload.error.tooLarge') };
  const msg = serverMessage(body);
  return { retriable: false, message: msg || t('error.unexpected') };
}

/** newestFirst orders stored previous uploads, most recent first. */
export function newestFirst(prev: readonly PreviousUpload[]): PreviousUpload[] {
  return [...prev].sort((a, b) => Date.parse(b.creationTime) - Date.parse(a.creationTime));
}

/** TusOptions configures tusTransfer. */
export interface TusOptions {
  endpoint?: string;
  chunkSize?: number;
  /** cookies returns document.cookie (the CSRF token is read at each request). */
  cookies?: () => string;
}

/** tusTransfer returns the queue's TransferFactory over tus-js-client. */
export function tusTransfer(opts: TusOptions = {}): TransferFactory {
  const endpoint = opts.endpoint ?? UPLOAD_ENDPOINT;
  const cookies = opts.cookies ?? (() => document.cookie);
  return (item, ev) => {
    let upload: Upload | null = null;
    const metadata: Record<string, string> = {
      filename: item.file.name,
      filetype: item.file.type || 'application/octet-stream',
      title: item.title,
    };
    if (item.groupId) metadata.group_id = item.groupId;
    if (item.meta) Object.assign(metadata, item.meta);

    const make = () =>
      new Upload(item.file, {
        endpoint,
        chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
        metadata,
        // tus-js-client's own retries, for blips; longer outages come back
        // to the queue, which waits for the network.
        retryDelays: [0, 1000, 3000, 5000],
        storeFingerprintForResuming: true,
        removeFingerprintOnSuccess: true,
        onBeforeRequest(req: HttpRequest) {
          const token = readCookie(cookies(), CSRF_COOKIE);
          if (token) req.setHeader(CSRF_HEADER, token);
        },
        onAfterResponse(req: HttpRequest, res: HttpResponse) {
          if (req.getMethod() !== 'HEAD' || res.getStatus() !== 200) return;
          const offset = Number(res.getHeader('Upload-Offset'));
          if (offset > 0) ev.resumed(offset);
        },
        onShouldRetry(err: DetailedError) {
          const status = err.originalResponse?.getStatus() ?? 0;
          const online = typeof navigator === 'undefined' || navigator.onLine !== false;
          return online && classify(status, '').retriable;
        },
        onProgress: (sent: number, total: number) => ev.progress(sent, total),
        onSuccess: () => ev.success(),
        onError(err: Error) {
          const res = (err as DetailedError).originalResponse;
          ev.error(classify(res?.getStatus() ?? 0, res?.getBody() ?? ''));
        },
      });

    return {
      start() {
        if (upload) {
          // After an error: HEAD asks the server for the offset, then PATCH goes on.
          upload.start();
          return;
        }
        const u = make();
        upload = u;
        u.findPreviousUploads().then(
          (prev) => {
            const [last] = newestFirst(prev);
            if (last) u.resumeFromPreviousUpload(last);
            u.start();
          },
          () => u.start(),
        );
      },
      async abort(terminate) {
        await upload?.abort(terminate).catch(() => {
          // Termination is best effort: the server sweeps abandoned uploads.
        });
      },
    };
  };
}

/**
 * listUnfinished returns the uploads this browser started and did not finish
 * (a reload or a closed tab interrupted them), newest first. Picking the same
 * file again resumes one.
 */
export async function listUnfinished(): Promise<PreviousUpload[]> {
  const all = await defaultOptions.urlStorage.findAllUploads();
  return newestFirst(all.filter((u) => u.uploadUrl));
}

/** forgetUnfinished deletes an unfinished upload on the server and in this browser. */
export async function forgetUnfinished(u: PreviousUpload, cookies: () => string = () => document.cookie): Promise<void> {
  if (u.uploadUrl) {
    await Upload.terminate(u.uploadUrl, {
      retryDelays: [],
      onBeforeRequest(req: HttpRequest) {
        const token = readCookie(cookies(), CSRF_COOKIE);
        if (token) req.setHeader(CSRF_HEADER, token);
      },
    }).catch(() => {
      // Gone already, or unreachable: the server sweeps abandoned uploads.
    });
  }
  await defaultOptions.urlStorage.removeUpload(u.urlStorageKey);
}
