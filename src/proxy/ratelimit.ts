/**
 * A token bucket for `rate: { per_second, burst }`. It never drops: when a
 * stanza finds the bucket empty, the session stops reading the component's
 * socket until the balance is positive again, and TCP holds the rest. The
 * balance may go below zero by what one read already delivered, and is paid
 * back before reading resumes, so the long-run rate holds.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly perSecond: number;
  readonly burst: number;
  readonly #now: () => number;

  constructor(perSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  #refill(): void {
    const t = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((t - this.#last) / 1000) * this.perSecond);
    this.#last = t;
  }

  /** Spend one token; returns how many ms to stop reading (0: go on). */
  take(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil(((1 - this.#tokens) / this.perSecond) * 1000);
  }
}
