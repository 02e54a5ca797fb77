/** Waiting for events with a deadline: no sleeps as synchronisation. */

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** Resolve when `check()` returns a value other than undefined; poll until the deadline. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new DeadlineError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resolve with the first emission of `event` on `emitter`, or fail at the deadline. */
export function nextEvent<T = unknown>(
  emitter: { once(event: string, cb: (v: T) => void): unknown; off?(event: string, cb: (v: T) => void): unknown },
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off?.(event, handler);
      reject(new DeadlineError(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const handler = (v: T) => {
      clearTimeout(timer);
      resolve(v);
    };
    emitter.once(event, handler);
  });
}
