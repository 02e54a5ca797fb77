/**
 * A bounded table of requests waiting for an answer, each with a deadline.
 * Every entry leaves exactly once: taken by its answer, expired by its
 * deadline, or drained on shutdown/disconnect; the owner's callback answers it.
 * Recently closed keys (answered or expired) are remembered, bounded, so a
 * late or second answer can be recognised and dropped instead of reaching the
 * requester again.
 */

/**
 * Closed keys remembered at least: a table bounded at a few entries must still
 * know a late answer after a burst of requests answered at once (each of
 * which closes a key); keys are short strings.
 */
const MIN_REMEMBERED = 1024;

export interface PendingOptions<V> {
  max: number;
  timeoutMs: number;
  onTimeout(key: string, value: V): void;
}

export class PendingTable<V> {
  #entries = new Map<string, { value: V; timer: NodeJS.Timeout; at: number }>();
  #expired = new Map<string, V>();
  #closed = new Set<string>();
  #opts: PendingOptions<V>;

  constructor(opts: PendingOptions<V>) {
    this.#opts = opts;
  }

  get size(): number {
    return this.#entries.size;
  }

  get full(): boolean {
    return this.#entries.size >= this.#opts.max;
  }

  /** When the oldest entry still waiting was added (ms since the epoch), for the status page. */
  oldestAt(): number | undefined {
    // A Map iterates in insertion order: the first entry waited longest.
    for (const e of this.#entries.values()) return e.at;
    return undefined;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** The value of a key that expired recently (its late answer is to be dropped). */
  expired(key: string): V | undefined {
    return this.#expired.get(key);
  }

  /** True for a key that was pending recently and is no longer (answered, expired or drained). */
  closed(key: string): boolean {
    return this.#closed.has(key);
  }

  /** Returns false (and adds nothing) when full or when the key is already pending. */
  add(key: string, value: V): boolean {
    if (this.full || this.#entries.has(key)) return false;
    const timer = setTimeout(() => {
      this.#entries.delete(key);
      this.#remember(key, value);
      this.#opts.onTimeout(key, value);
    }, this.#opts.timeoutMs);
    timer.unref();
    this.#entries.set(key, { value, timer, at: Date.now() });
    this.#expired.delete(key);
    this.#closed.delete(key);
    return true;
  }

  take(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    clearTimeout(e.timer);
    this.#entries.delete(key);
    this.#markClosed(key);
    return e.value;
  }

  forEach(each: (key: string, value: V) => void): void {
    for (const [key, e] of this.#entries) each(key, e.value);
  }

  /** Remove every entry, handing each to `each` (disconnect, shutdown). */
  drain(each: (key: string, value: V) => void): void {
    const all = [...this.#entries];
    this.#entries.clear();
    for (const [key, e] of all) {
      clearTimeout(e.timer);
      this.#markClosed(key);
      each(key, e.value);
    }
  }

  /** Record a key as answered without it ever being pending (answered at once). */
  markAnswered(key: string): void {
    if (!this.#entries.has(key)) this.#markClosed(key);
  }

  #markClosed(key: string): void {
    this.#closed.add(key);
    if (this.#closed.size > Math.max(this.#opts.max, MIN_REMEMBERED)) {
      const oldest = this.#closed.values().next().value;
      if (oldest !== undefined) this.#closed.delete(oldest);
    }
  }

  #remember(key: string, value: V): void {
    this.#markClosed(key);
    this.#expired.set(key, value);
    if (this.#expired.size > this.#opts.max) {
      const oldest = this.#expired.keys().next().value;
      if (oldest !== undefined) this.#expired.delete(oldest);
    }
  }
}
