/**
 * The fuzzer's core, shared by `npm run fuzz` (≥ 1,000,000 inputs) and the CI
 * slice (20,000): inputs are random bytes, random text, hostile fragments and
 * mutations of the real recordings. Each input goes through privguard's parser
 * as a component stream (every other input with the fast path on: what it
 * frames must parse to exactly one stanza), then every stanza through the
 * decisions of both directions and the serialiser. Invariants: nothing throws; a parse either
 * fails with a known stream error or yields stanzas; every stanza serialises to
 * XML that parses back to the same serialisation; every decision is a known
 * action, and a refused IQ get/set gets exactly one answer.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Element } from '@xmpp/xml';
import { checkComponentElement } from '../../src/policy/addressing.js';
import { decideInbound } from '../../src/policy/inbound.js';
import { decideOutbound } from '../../src/policy/outbound.js';
import { ACTIONS } from '../../src/policy/verdict.js';
import { classifyTopLevel } from '../../src/protocol/classify.js';
import { STREAM_ERROR_CONDITIONS } from '../../src/protocol/ns.js';
import { isJudgedNamespace } from '../../src/policy/framed.js';
import type { FramedStanza } from '../../src/protocol/frame.js';
import { StreamParser } from '../../src/protocol/parser.js';
import { serialize } from '../../src/protocol/serialize.js';
import { context, FULL_GRANT, type Ctx } from '../unit/policy/helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const HEADER = "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='pubsub.example.test'>";

/** Stanzas from the real recordings, the seeds of mutation. */
export function corpus(): string[] {
  const out: string[] = [];
  for (const server of ['prosody', 'ejabberd']) {
    const dir = join(here, '..', 'fixtures', 'recordings', server);
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.xml'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (line.startsWith('<') && !line.startsWith('<!--') && !line.startsWith('<?xml') && !line.startsWith('<stream')) out.push(line);
      }
    }
  }
  return out;
}

const HOSTILE = [
  '<!DOCTYPE x [<!ENTITY e "v">]>', '&foo;', '&#0;', '&#xD800;', '<?pi x?>', '<!-- c -->', '<![CDATA[', ']]>', '\u0000', '\uFFFE',
  "<a xmlns:p='urn:xmpp:privilege:2'><p:privilege/>", " to='x' to='y'", '</stream:stream>', '<stream:error/>', '<<', '>', '"', "'", '&amp;',
  "<privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='admin@example.test' to='b@x'/></forwarded></privilege>",
  "<delegation xmlns='urn:xmpp:delegation:2'><forwarded xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' type='result' id='i'/></forwarded></delegation>",
];

/** A small deterministic PRNG (mulberry32), so a failing input can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeInput(rand: () => number, seeds: string[]): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.1) {
    // random bytes, decoded as the stream layer would
    const n = Math.floor(rand() * 200);
    return Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256))).toString('utf8');
  }
  if (r < 0.2) {
    const n = Math.floor(rand() * 100);
    return Array.from({ length: n }, () => String.fromCharCode(Math.floor(rand() * 0x3000))).join('');
  }
  let s = pick(seeds);
  const mutations = 1 + Math.floor(rand() * 4);
  for (let m = 0; m < mutations; m++) {
    const at = Math.floor(rand() * (s.length + 1));
    const k = rand();
    if (k < 0.25) s = s.slice(0, at) + pick(HOSTILE) + s.slice(at);
    else if (k < 0.45) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8));
    else if (k < 0.6) s = s.slice(0, at) + String.fromCharCode(Math.floor(rand() * 128)) + s.slice(at);
    else if (k < 0.7) s = s.slice(0, at);
    else if (k < 0.8) s = s + pick(seeds);
    else if (k < 0.9) s = s.slice(0, at) + '<a>'.repeat(Math.floor(rand() * 80)) + s.slice(at);
    else s = s.replace(/pubsub\.example\.test/g, pick(['PubSub.Example.TEST', 'evil.example', 'pubsub.example.test/r', 'x@pubsub.example.test']));
  }
  return s;
}

export interface FuzzReport {
  inputs: number;
  stanzas: number;
  streamErrors: Record<string, number>;
  failures: { seed: number; input: string; error: string }[];
}

const conditions = new Set<string>(STREAM_ERROR_CONDITIONS);
const actions = new Set<string>(ACTIONS);

function check(ctx: Ctx, el: Element): void {
  const text = serialize(el);
  let again: Element | undefined;
  const p = new StreamParser({ onHeader: () => {}, onStanza: (e) => (again = e), onEnd: () => {} }, { maxStanzaBytes: 1 << 24, maxDepth: 1000 });
  const f = p.write(HEADER + text);
  if (f || !again) throw new Error(`serialised stanza does not parse back: ${f?.text ?? 'nothing'}: ${text.slice(0, 200)}`);
  if (serialize(again) !== text) throw new Error(`round trip changed the stanza: ${text.slice(0, 200)}`);
  const framing = checkComponentElement('pubsub.example.test', classifyTopLevel(el), el);
  for (const v of [framing, decideOutbound(ctx.out, el), decideInbound(ctx.in, el)]) {
    if (!actions.has(v.action)) throw new Error(`unknown action ${v.action}`);
    const type = el.attrs.type as string | undefined;
    if (v.action === 'reject' && !v.streamError && el.name === 'iq' && (type === 'get' || type === 'set')) {
      if (v.replies.length !== 1) throw new Error(`a refused iq ${type} got ${v.replies.length} answers`);
    }
  }
}

export function runFuzz(count: number, seed = 1): FuzzReport {
  const seeds = corpus();
  const ctx = context(`example.test:\n  roster: get\n  message: outgoing\n  presence: managed_entity\n  iq: { "jabber:iq:private": get }\n  except_users: [admin]`, FULL_GRANT);
  ctx.delegations.set('example.test', new Map([['urn:xmpp:mam:2', ['node']]]));
  const report: FuzzReport = { inputs: 0, stanzas: 0, streamErrors: {}, failures: [] };
  for (let i = 0; i < count; i++) {
    const inputSeed = seed * 1_000_003 + i;
    const rand = prng(inputSeed);
    const input = makeInput(rand, seeds);
    report.inputs++;
    try {
      const stanzas: Element[] = [];
      const limits = { maxStanzaBytes: 4096, maxDepth: 64 };
      // Every other input with the fast path on: what it frames must parse to exactly one stanza.
      const onFramed = (f: FramedStanza): boolean => {
        const one: Element[] = [];
        const again = new StreamParser({ onHeader: () => {}, onStanza: (e) => void one.push(e), onEnd: () => {} }, limits);
        const failed = again.write(HEADER + f.xml);
        if (failed || one.length !== 1) throw new Error(`framed characters are not one stanza: ${failed?.text ?? one.length}`);
        if (one[0]!.name !== f.name) throw new Error(`framed root ${f.name} parsed as ${one[0]!.name}`);
        stanzas.push(one[0]!);
        return true;
      };
      const parser = new StreamParser({ onHeader: () => {}, onStanza: (e) => void stanzas.push(e), onEnd: () => {}, ...(i % 2 === 0 ? { onFramed, isJudged: isJudgedNamespace } : {}) }, limits);
      // fed in random pieces, as TCP would
      let failure = parser.write(HEADER);
      let rest = input;
      while (!failure && rest.length > 0) {
        const n = 1 + Math.floor(rand() * rest.length);
        failure = parser.write(rest.slice(0, n));
        rest = rest.slice(n);
      }
      if (failure) {
        if (!conditions.has(failure.condition)) throw new Error(`unknown stream error ${failure.condition}`);
        report.streamErrors[failure.condition] = (report.streamErrors[failure.condition] ?? 0) + 1;
      }
      for (const el of stanzas) {
        report.stanzas++;
        check(ctx, el);
      }
    } catch (e) {
      report.failures.push({ seed: inputSeed, input: input.slice(0, 500), error: e instanceof Error ? e.message : String(e) });
      if (report.failures.length >= 20) break;
    }
  }
  return report;
}
