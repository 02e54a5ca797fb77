import { afterEach, describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/proxy/ratelimit.js';
import { RawComponent } from '../support/component.js';
import { startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';

let stack: FakeStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('TokenBucket', () => {
  it('lets a burst through, then asks to wait in proportion to the debt', () => {
    let now = 0;
    const b = new TokenBucket(100, 5, () => now);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(0);
    expect(b.take()).toBe(20); // -1 token at 100/s: 20 ms until +1
    now += 5; // half a token back: still in debt
    expect(b.take()).toBe(25);
    now += 1000;
    expect(b.take()).toBe(0);
  });
});

describe('rate: a component flooding at far more than its rate', () => {
  it('is held to the rate (±10%), by pausing its reads, and loses no stanza', async () => {
    const PER_SECOND = 500;
    const BURST = 20;
    const TOTAL = 1000;
    stack = await startFakeStack({ componentA: `rate: { per_second: ${PER_SECOND}, burst: ${BURST} }`, maxStanzaBytes: 65536 });
    const raw = await RawComponent.open(stack.port, 'a.example.org');
    const conn = await waitFor('upstream', () => stack!.fake.connections[0]);
    const arrivals: number[] = [];
    const seen = () => conn.stanzas.length;
    const t0 = performance.now();
    let batch = '';
    for (let i = 0; i < TOTAL; i++) batch += `<message from='a.example.org' to='u@example.org' id='r${i}'><body>x</body></message>`;
    raw.write(batch); // all at once: ~100 times the rate
    await waitFor(
      'all stanzas',
      () => {
        while (arrivals.length < seen()) arrivals.push(performance.now() - t0);
        return seen() >= TOTAL ? true : undefined;
      },
      10_000,
      5,
    );
    expect(conn.stanzas.map((s) => String(s.attrs.id))).toEqual(Array.from({ length: TOTAL }, (_, i) => `r${i}`));
    // after the burst, the rate: (TOTAL - BURST) stanzas over the time they took
    const afterBurst = arrivals[TOTAL - 1]! - arrivals[BURST]!;
    const rate = ((TOTAL - BURST - 1) / afterBurst) * 1000;
    expect(rate).toBeGreaterThan(PER_SECOND * 0.9);
    expect(rate).toBeLessThan(PER_SECOND * 1.1);
  });
});
