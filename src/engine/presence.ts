/**
 * Presence de-duplication: the same presence again within a second is
 * dropped (ejabberd 23.01 forwards privilege-derived presence twice). Bounded
 * by count and age; time is the link's clock.
 */
const WINDOW_MS = 1000;
const MAX_REMEMBERED = 1000;

export class PresenceDedup {
  readonly #recent = new Map<string, number>();

  /** True if `key` (a serialised presence) was seen within the window; remembers it either way. */
  duplicate(key: string, now: number): boolean {
    const last = this.#recent.get(key);
    this.#recent.delete(key);
    this.#recent.set(key, now);
    for (const [k, t] of this.#recent) {
      if (now - t <= WINDOW_MS && this.#recent.size <= MAX_REMEMBERED) break;
      this.#recent.delete(k);
    }
    return last !== undefined && now - last <= WINDOW_MS;
  }
}
