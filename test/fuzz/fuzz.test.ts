import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawComponent } from '../support/component.js';
import { startFakeStack, type FakeStack } from '../support/fake-stack.js';
import { waitFor } from '../support/wait.js';
import { StreamParser } from '../../src/protocol/parser.js';
import { corpus, makeInput, prng, runFuzz } from './fuzz-core.js';

/** Whether `input` leaves the stream inside an unfinished element (privguard then waits for the rest). */
function endsInsideStanza(input: string): boolean {
  const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='a.example.org'>";
  // A probe: a complete stanza after the input is emitted only if the input left no element open.
  let emitted = false;
  const probe = new StreamParser({ onHeader: () => {}, onStanza: (e) => void (e.attrs.id === 'probe' && (emitted = true)), onEnd: () => {} }, { maxStanzaBytes: 16384, maxDepth: 64 });
  probe.write(HEADER);
  const failure = probe.write(`${input}<message id='probe'/>`);
  return failure === undefined && !emitted;
}

describe('fuzz (CI slice)', () => {
  it('20,000 inputs through the parser, every decision and the serialiser: nothing breaks', () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const report = runFuzz(20_000, seed);
    expect(report.failures, `seed ${seed}`).toEqual([]);
    expect(report.inputs).toBe(20_000);
    expect(report.stanzas).toBeGreaterThan(1000);
  });

  describe('over real sockets, against the listener and the session', () => {
    let stack: FakeStack;
    let good: RawComponent;
    beforeAll(async () => {
      stack = await startFakeStack();
      good = await RawComponent.open(stack.port, 'b.example.org');
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('every input is relayed or answered with an error; the other component never notices', async () => {
      const seeds = corpus();
      const rand = prng(Number(process.env.FUZZ_SEED ?? 42));
      const unhandled: unknown[] = [];
      const onUnhandled = (e: unknown) => void unhandled.push(e);
      process.on('unhandledRejection', onUnhandled);
      const heap0 = process.memoryUsage().heapUsed;
      let relayed = 0;
      let refused = 0;
      let held = 0;
      for (let i = 0; i < 150; i++) {
        const raw = await RawComponent.open(stack.port, 'a.example.org');
        const conn = await waitFor('upstream', () => stack.fake.connections.filter((c) => c.to === 'a.example.org').at(-1));
        const marker = `fuzz-${i}`;
        const input = makeInput(rand, seeds).replace(/pubsub\.example\.test/g, 'a.example.org');
        const markerStanza = `<message from='a.example.org' to='x@example.org' id='${marker}'/>`;
        raw.write(input);
        raw.write(markerStanza);
        if (endsInsideStanza(input + markerStanza)) {
          // An unfinished stanza: the stream waits for the rest (bounded by max_stanza_bytes).
          // Nothing may have been relayed for it; closing the socket ends the session.
          raw.socket.end();
          await waitFor('fuzz session gone', () => (stack.sidecar.online().includes('a.example.org') ? undefined : true));
          expect(conn.stanzas.some((s) => s.attrs.id === marker)).toBe(false);
          held++;
          continue;
        }
        const outcome = await waitFor(
          'relayed or refused',
          () => {
            if (conn.stanzas.some((s) => s.attrs.id === marker)) return 'relayed';
            if (raw.stanzas.some((s) => s.name === 'error' || s.attrs.type === 'error') || raw.ended) return 'refused';
            return undefined;
          },
          5000,
          2,
        ).catch(() => `hang: ${JSON.stringify(input)} | to component: ${JSON.stringify(raw.received.slice(-200))} | upstream: ${JSON.stringify(conn.raw.slice(-200))}`);
        expect(outcome).toMatch(/^(relayed|refused)$/);
        if (outcome === 'relayed') relayed++;
        else refused++;
        raw.socket.destroy();
        // the other component is unaffected
        good.write(`<message from='b.example.org' to='y@example.org' id='good-${i}'/>`);
        await waitFor('good still relays', () => stack.fake.connections.find((c) => c.to === 'b.example.org')?.stanzas.find((s) => s.attrs.id === `good-${i}`));
        await waitFor('fuzz session gone', () => (stack.sidecar.online().includes('a.example.org') ? undefined : true));
      }
      process.off('unhandledRejection', onUnhandled);
      expect(unhandled).toEqual([]);
      expect(relayed + refused + held).toBe(150);
      expect(relayed).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
      expect(process.memoryUsage().heapUsed - heap0).toBeLessThan(100 * 1024 * 1024);
      expect(stack.sidecar.online()).toEqual(['b.example.org']);
    }, 120_000);
  });
});
