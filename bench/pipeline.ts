/**
 * The JavaScript work on one stanza with nothing else around it: decode a
 * 64 KiB read, frame or parse, decide (the production Link, the server's
 * advertisement read), and write the audit line of each decision. No socket,
 * no event loop, no backpressure. Run by `npm run bench` (part `pipeline`) in
 * a process of its own with privguard's node flags, on the built modules
 * (tsx's transform would turn each imported call into a getter call, see
 * profile.ts); prints `{ "plain": ns, "privileged": ns }` per stanza, the best
 * of several passes. This is the floor under privguard's CPU per stanza: the
 * flood's cpu_ratio_vs_server_* cannot go below it however the I/O is done.
 */
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(root, 'dist/src', path)).href)) as T;

const { loadPolicyText } = await built<typeof import('../src/config/load.js')>('config/load.js');
const { compilePolicy } = await built<typeof import('../src/policy/compile.js')>('policy/compile.js');
const { Link } = await built<typeof import('../src/engine/link.js')>('engine/link.js');
const { StreamParser } = await built<typeof import('../src/protocol/parser.js')>('protocol/parser.js');
const { StrictUtf8Decoder } = await built<typeof import('../src/protocol/utf8.js')>('protocol/utf8.js');
const { isJudgedNamespace } = await built<typeof import('../src/policy/framed.js')>('policy/framed.js');
const { auditLine } = await built<typeof import('../src/observe/audit.js')>('observe/audit.js');
const { auditRecordOf } = await built<typeof import('../src/observe/events.js')>('observe/events.js');

const C = 'pubsub.example.test';
const HEADER = `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${C}'>`;
const N = 20_000;

function perStanza(kind: 'plain' | 'privileged'): number {
  const policy = `components:\n  ${C}: { secret: s, upstream_secret: u, privileges: { example.org: { message: outgoing } } }\n`;
  const compiled = compilePolicy(loadPolicyText(policy, 'bench.yaml', {})).components.get(C)!;
  // What a socket write and the audit file would be handed, turned into bytes once per read as they are.
  let out = '';
  let audit = '';
  let decisions = 0;
  const link = new Link({
    name: C,
    compiled,
    mode: 'enforce',
    pendingTimeoutMs: 1000,
    maxPending: 10,
    now: () => 0,
    effects: {
      toComponent: () => {},
      toServer: (xml) => void (out += xml),
      closeStreams: () => {},
      log: () => {},
      decision: (e) => {
        decisions++;
        audit += auditLine(auditRecordOf(e));
      },
    },
  });
  const fromServer = new StreamParser({ onHeader: () => {}, onEnd: () => {}, onStanza: (el) => link.fromServer(el) }, { maxStanzaBytes: 1 << 20, maxDepth: 32, serverStream: true });
  fromServer.write(
    `${HEADER}<message from='example.org' to='${C}'><privilege xmlns='urn:xmpp:privilege:2'><perm access='message' type='outgoing'/></privilege></message>`,
  );
  const parser = new StreamParser(
    { onHeader: () => {}, onEnd: () => {}, onStanza: (el, raw) => link.fromComponent(el, raw), onFramed: (f) => link.framedFromComponent(f), isJudged: isJudgedNamespace },
    { maxStanzaBytes: 1 << 20, maxDepth: 32 },
  );
  const decoder = new StrictUtf8Decoder();
  const feed = (bytes: Buffer): void => {
    const text = decoder.write(bytes);
    const failure = text === undefined ? { text: 'invalid UTF-8' } : parser.write(text, decoder.plain, decoder.ascii ? bytes : undefined);
    if (failure) throw new Error(failure.text);
    if (out.length > 0) void Buffer.from(out);
    if (audit.length > 0) void Buffer.from(audit);
    out = '';
    audit = '';
  };
  feed(Buffer.from(HEADER));
  const msg = (i: number) =>
    kind === 'plain'
      ? `<message from='bot@${C}' to='u@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message>`
      : `<message from='${C}' to='example.org' id='p${i}'><privilege xmlns='urn:xmpp:privilege:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@example.org' to='bob@example.org' id='f${i}' type='chat'><body>benchmark message number ${i} with some text</body></message></forwarded></privilege></message>`;
  const all = Buffer.from(Array.from({ length: N }, (_, i) => msg(i)).join(''));
  // Cut into 64 KiB reads wherever that falls, as a socket delivers them.
  const reads: Buffer[] = [];
  for (let o = 0; o < all.length; o += 65536) reads.push(all.subarray(o, Math.min(all.length, o + 65536)));
  let best = Infinity;
  for (let pass = 0; pass < 30; pass++) {
    const d0 = decisions;
    const t0 = process.hrtime.bigint();
    for (const r of reads) feed(Buffer.from(r)); // a buffer of its own per read, as from a socket
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (kind === 'privileged' && decisions - d0 !== N) throw new Error(`${decisions - d0} decisions for ${N} privileged messages`);
    if (pass >= 5) best = Math.min(best, ns); // the first passes compile the hot path
  }
  return best;
}

process.stdout.write(`${JSON.stringify({ plain: perStanza('plain'), privileged: perStanza('privileged') })}\n`);
