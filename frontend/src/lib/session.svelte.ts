// Session is the reactive "who is signed in" state shared by all pages.

import { isApiError, type Api, type ApiError, type User } from './api';

/** Session loads and holds the visitor's identity; one instance per app. */
export class Session {
  /** user is the signed-in person, or null when signed out. */
  user = $state<User | null>(null);
  /** setupNeeded is true until the first administrator exists. */
  setupNeeded = $state(false);
  /** ready turns true once the first load finished (well or not). */
  ready = $state(false);
  /** loadError is set when the server could not be asked at all. */
  loadError = $state<ApiError | null>(null);

  readonly #api: Api;

  constructor(api: Api) {
    this.#api = api;
  }

  /** load asks the server whether setup is needed and who is signed in. */
  async load(): Promise<void> {
    this.loadError = null;
    try {
      const { needed } = await this.#api.setupStatus();
      this.setupNeeded = needed;
      this.user = null;
      if (!needed) {
        try {
          this.user = (await this.#api.me()).user;
        } catch (err) {
          if (!isApiError(err) || err.status !== 401) throw err;
        }
      }
    } catch (err) {
      this.loadError = isApiError(err) ? err : null;
      if (!isApiError(err)) throw err;
    } finally {
      this.ready = true;
    }
  }

  /** signedIn records a successful sign-in, sign-up or setup. */
  signedIn(user: User): void {
    this.user = user;
    this.setupNeeded = false;
  }

  /** signedOut forgets the person after sign-out or an expired session. */
  signedOut(): void {
    this.user = null;
  }
}
