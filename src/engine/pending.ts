/**
 * A bounded table of requests waiting for an answer, each with a deadline on
 * the link's clock (no timers: the driver calls `expire(now)`). Every entry
 * leaves exactly once: taken by its answer, expired, or drained on close.
 *
 * Keys that left (answered, expired, drained, or answered at once without ever
 * being pending) are remembered in a bounded memory of their own, sized apart
 * from `max`: a late or second reply for one of them is recognised and dropped
 * instead of reaching the requester as a second answer. The memory is much
 * larger than the table, so a burst of answers cannot push a key out of it
 * while its late reply may still be on the way.
 */

/** How many answered keys are remembered, at least (and at least 4 × max). */
export const ANSWERED_MEMORY = 4096;

interface Entry<V> {
  value: V;
  /** When it was added (the link's clock). */
  since: number;
  deadline: number;
}

export class PendingTable<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #expired = new Map<string, V>();
  readonly #closed = new Set<string>();
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #memory: number;

  constructor(max: number, timeoutMs: number) {
    this.#max = max;
    this.#timeoutMs = timeoutMs;
    this.#memory = Math.max(ANSWERED_MEMORY, 4 * max);
  }

  get size(): number {
    return this.#entries.size;
  }

  get full(): boolean {
    return this.#entries.size >= this.#max;
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

  /** True for a key that was pending (or answered at once) recently and is no longer. */
  closed(key: string): boolean {
    return this.#closed.has(key);
  }

  /** Returns false (and adds nothing) when full or when the key is already pending. */
  add(key: string, value: V, now: number): boolean {
    if (this.full || this.#entries.has(key)) return false;
    this.#entries.set(key, { value, since: now, deadline: now + this.#timeoutMs });
    this.#expired.delete(key);
    this.#closed.delete(key);
    return true;
  }

  take(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    this.#entries.delete(key);
    this.#markClosed(key);
    return e.value;
  }

  /** The earliest deadline, if anything is pending (entries are in deadline order: one timeout for all). */
  nextDeadline(): number | undefined {
    for (const e of this.#entries.values()) return e.deadline;
    return undefined;
  }

  /** When the oldest entry was added. */
  oldestSince(): number | undefined {
    for (const e of this.#entries.values()) return e.since;
    return undefined;
  }

  /** Remove every entry whose deadline has come, oldest first, handing each to `each`. */
  expire(now: number, each: (value: V) => void): void {
    for (const [key, e] of this.#entries) {
      if (e.deadline > now) return;
      this.#entries.delete(key);
      this.#markClosed(key);
      this.#expired.set(key, e.value);
      if (this.#expired.size > this.#memory) this.#expired.delete(this.#expired.keys().next().value!);
      each(e.value);
    }
  }

  forEach(each: (key: string, value: V) => void): void {
    for (const [key, e] of this.#entries) each(key, e.value);
  }

  /** Remove every entry, handing each to `each` (close of the link). */
  drain(each: (value: V) => void): void {
    const all = [...this.#entries];
    this.#entries.clear();
    for (const [key, e] of all) {
      this.#markClosed(key);
      each(e.value);
    }
  }

  /** Record a key as answered without it ever being pending (answered at once). */
  markAnswered(key: string): void {
    if (!this.#entries.has(key)) this.#markClosed(key);
  }

  #markClosed(key: string): void {
    this.#closed.delete(key);
    this.#closed.add(key);
    if (this.#closed.size > this.#memory) this.#closed.delete(this.#closed.values().next().value!);
  }
}
