// The app-wide upload queue: App.svelte creates one and provides it, so
// uploads keep going while the person moves between pages (library, review)
// and the library can follow them. tus-js-client is loaded on the first
// upload only, keeping it out of the first page load.

import { getContext, setContext } from 'svelte';
import { t } from './i18n';
import { browserNetwork, CHUNK_OVERRIDE_KEY, chunkSizeFrom, UploadQueue, type Transfer, type TransferFactory } from './upload';

const KEY = Symbol('filmroom-uploads');

/** provideUploads makes the queue available to the calling component's children. */
export function provideUploads(q: UploadQueue): void {
  setContext(KEY, q);
}

/** useUploads returns the app's queue; call it during component initialisation. */
export function useUploads(): UploadQueue {
  const q = getContext<UploadQueue | undefined>(KEY);
  if (!q) throw new Error('useUploads called outside <App>');
  return q;
}

function storedChunkOverride(): string | null {
  try {
    return localStorage.getItem(`filmroom.${CHUNK_OVERRIDE_KEY}`);
  } catch {
    return null; // storage disabled: no override
  }
}

/**
 * lazyTusTransfer is a TransferFactory that imports the tus transfer when a
 * transfer first starts. Calls made while the import is on its way are
 * replayed in order once it is there.
 */
export function lazyTusTransfer(search: string): TransferFactory {
  const mod = () => import('./upload-tus');
  return (item, events) => {
    let real: Transfer | null = null;
    let loading: Promise<Transfer> | null = null;
    const load = () =>
      (loading ??= mod().then(
        (m) => {
          real = m.tusTransfer({ chunkSize: chunkSizeFrom(search, storedChunkOverride()) })(item, events);
          return real;
        },
        (err: unknown) => {
          loading = null; // a failed chunk load is tried again on the next start
          throw err;
        },
      ));
    return {
      start() {
        if (real) real.start();
        else
          load().then(
            (tr) => tr.start(),
            () => events.error({ retriable: true, message: t('upload.error.network') }),
          );
      },
      async abort(terminate) {
        if (real) return real.abort(terminate);
        if (loading) return (await loading.catch(() => null))?.abort(terminate);
      },
    };
  };
}

/** createUploadQueue builds the browser's queue. */
export function createUploadQueue(): UploadQueue {
  return new UploadQueue({
    transfer: lazyTusTransfer(window.location.search),
    network: browserNetwork(window),
    gaveUp: t('upload.error.gaveUp'),
  });
}
