import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { XmppStream } from '../../src/proxy/stream.js';
import type { ParseFailure } from '../../src/protocol/parser.js';
import { FramedStanza } from '../../src/protocol/frame.js';

const HEADER = "<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>";

/** An XmppStream over an unconnected socket: the test plays the reads itself. */
function fedStream() {
  const socket = new Socket();
  const stanzas: Element[] = [];
  const failures: ParseFailure[] = [];
  const stream = new XmppStream(socket, { maxStanzaBytes: 4096, maxDepth: 64 }, {
    onHeader: () => {},
    onStanza: (el) => void stanzas.push(el),
    onEnd: () => {},
    onFailure: (f) => void failures.push(f),
    onClose: () => {},
  });
  const read = (b: Buffer) => socket.emit('data', b);
  return { stream, stanzas, failures, read, socket };
}

describe('XmppStream decoding', () => {
  it('keeps a multi-byte character that a read splits in two (UTF-8 across TCP reads)', () => {
    const { stanzas, read, failures, socket } = fedStream();
    const bytes = Buffer.from(`${HEADER}<message to='a@b'><body>é€𝄞</body></message>`, 'utf8');
    const euro = bytes.indexOf(Buffer.from('€', 'utf8'));
    // split inside "€" (3 bytes) and inside "𝄞" (4 bytes)
    const clef = bytes.indexOf(Buffer.from('𝄞', 'utf8'));
    read(bytes.subarray(0, euro + 1));
    read(bytes.subarray(euro + 1, clef + 2));
    read(bytes.subarray(clef + 2));
    expect(failures).toEqual([]);
    expect(stanzas[0]!.getChildText('body')).toBe('é€𝄞');
    socket.destroy();
  });

  it('reads ASCII reads (decoded as such) and UTF-8 reads between them alike, framed or parsed', () => {
    const socket = new Socket();
    const seen: string[] = [];
    const failures: ParseFailure[] = [];
    new XmppStream(socket, { maxStanzaBytes: 4096, maxDepth: 64 }, {
      onHeader: () => {},
      onStanza: (el) => void seen.push(`parsed ${el.getChildText('body')}`),
      onFramed: (f) => (seen.push(`framed ${f.xml}`), true),
      onEnd: () => {},
      onFailure: (f) => void failures.push(f),
      onClose: () => {},
    });
    const read = (b: Buffer | string) => socket.emit('data', Buffer.from(b));
    read(`${HEADER}<message id='1'><body>plain</body></message>`);
    const e = Buffer.from('é');
    // A stanza split across reads is parsed in full (the fast path frames only what one read holds whole).
    read(Buffer.concat([Buffer.from("<message id='2'><body>hé</body></message><message id='3'><body>h"), e.subarray(0, 1)]));
    read(Buffer.concat([e.subarray(1), Buffer.from('</body></message>')]));
    read("<message id='4'><body>x &amp; y</body></message>");
    read("<message id='5'><body>\tok]</body></message><message id='6'><body>ok</body></message>");
    expect(failures).toEqual([]);
    expect(seen).toEqual([
      "framed <message id='1'><body>plain</body></message>",
      "framed <message id='2'><body>hé</body></message>",
      'parsed hé',
      'parsed x & y',
      "framed <message id='5'><body>\tok]</body></message>",
      "framed <message id='6'><body>ok</body></message>",
    ]);
    socket.destroy();
  });

  it('refuses a character that an ASCII read cuts short', () => {
    const { read, failures, stanzas, socket } = fedStream();
    read(Buffer.from(`${HEADER}<message to='a@b'><body>`));
    read(Buffer.from([0xe2, 0x82]));
    read(Buffer.from('x</body></message>'));
    expect(failures.map((f) => f.condition)).toEqual(['not-well-formed']);
    expect(stanzas).toEqual([]);
    socket.destroy();
  });

  it('turns an undefined entity into a not-well-formed failure instead of an exception', () => {
    const { read, failures, stanzas, socket } = fedStream();
    expect(() => read(Buffer.from(`${HEADER}<message to='a@b'><body>&foo;</body></message>`))).not.toThrow();
    expect(failures.map((f) => f.condition)).toEqual(['not-well-formed']);
    expect(stanzas).toEqual([]);
    socket.destroy();
  });
});

/** A stream whose framed stanzas are kept (taken as they are), and one whose socket writes are recorded. */
function framingAndWriting() {
  const inSocket = new Socket();
  const framed: FramedStanza[] = [];
  new XmppStream(inSocket, { maxStanzaBytes: 4096, maxDepth: 64 }, {
    onHeader: () => {},
    onStanza: () => {},
    onFramed: (f) => (framed.push(f), true),
    onEnd: () => {},
    onFailure: () => {},
    onClose: () => {},
  });
  const outSocket = new Socket();
  const writes: (string | Uint8Array)[] = [];
  let ended: string | undefined;
  outSocket.write = ((chunk: string | Uint8Array) => (writes.push(chunk), true));
  outSocket.end = ((chunk: string) => ((ended = chunk), outSocket)) as typeof outSocket.end;
  const out = new XmppStream(outSocket, { maxStanzaBytes: 4096, maxDepth: 64 }, {
    onHeader: () => {},
    onStanza: () => {},
    onEnd: () => {},
    onFailure: () => {},
    onClose: () => {},
  });
  // A buffer of its own, as a socket's read is (Buffer.from would take small ones from a shared pool).
  const read = (s: string) => {
    const b = Buffer.allocUnsafeSlow(Buffer.byteLength(s));
    b.write(s);
    inSocket.emit('data', b);
    return b;
  };
  const text = (c: string | Uint8Array) => (typeof c === 'string' ? c : Buffer.from(c).toString('latin1'));
  return { framed, out, read, writes, text, ended: () => ended, tick: () => new Promise<void>((r) => process.nextTick(r)) };
}

const m = (id: string, body = 'hi') => `<message from='bot@pubsub.example.test' to='u@example.test' id='${id}'><body>${body}</body></message>`;

describe('XmppStream writing framed stanzas as the bytes that arrived', () => {
  it('sends framed stanzas of one ASCII read as one view of that read, not a copy', async () => {
    const { framed, out, read, writes, text, tick } = framingAndWriting();
    read(HEADER);
    const bytes = read(m('1') + m('2') + m('3'));
    expect(framed.map((f) => f.source !== undefined)).toEqual([true, true, true]);
    for (const f of framed) expect(out.write(f.xml, f)).toBe(true);
    await tick();
    expect(writes).toHaveLength(1);
    const w = writes[0] as Uint8Array;
    expect(typeof w).not.toBe('string');
    expect(w.buffer).toBe(bytes.buffer);
    expect(text(w)).toBe(m('1') + m('2') + m('3'));
  });

  it('keeps the order of framed bytes, other text and stanzas of another read, in one corked write', async () => {
    const { framed, out, read, writes, text, tick } = framingAndWriting();
    read(HEADER);
    read(m('1') + m('2'));
    read(m('3'));
    out.write(framed[0]!.xml, framed[0]);
    out.write(' ');
    out.write(framed[1]!.xml, framed[1]);
    out.write(framed[2]!.xml, framed[2]);
    out.write('<iq/>');
    await tick();
    expect(writes.map(text).join('')).toBe(`${m('1')} ${m('2')}${m('3')}<iq/>`);
  });

  it('frames a stanza cut across two ASCII reads from the joined bytes, and sends exactly them', async () => {
    const { framed, out, read, writes, text, tick } = framingAndWriting();
    read(HEADER);
    const all = m('1') + m('2', 'a longer body') + m('3');
    const cut = m('1').length + 20;
    const first = read(all.slice(0, cut));
    const second = read(all.slice(cut));
    // The second stanza, cut inside its start tag, waited whole and was framed from the two reads' bytes joined.
    expect(framed.map((f) => f.xml)).toEqual([m('1'), m('2', 'a longer body'), m('3')]);
    expect(framed[1]!.source).not.toBe(first);
    expect(framed[1]!.source).not.toBe(second);
    for (const f of framed) {
      expect(f.source).toBeDefined();
      expect(Buffer.from(f.source!.subarray(f.start, f.end)).toString('latin1')).toBe(f.xml);
      out.write(f.xml, f);
    }
    await tick();
    expect(writes.map(text).join('')).toBe(all);
  });

  it('copies a small part of a big read instead of keeping all of the read alive in the socket', async () => {
    const { framed, out, read, writes, text, tick } = framingAndWriting();
    read(HEADER);
    const bytes = read(m('1') + ' '.repeat(2000));
    out.write(framed[0]!.xml, framed[0]);
    await tick();
    expect(writes).toHaveLength(1);
    expect((writes[0] as Uint8Array).buffer).not.toBe(bytes.buffer);
    expect(text(writes[0]!)).toBe(m('1'));
  });

  it('writes what waits before its end tag when closed', () => {
    const { framed, out, read, writes, text, ended } = framingAndWriting();
    read(HEADER);
    read(m('1'));
    out.write(framed[0]!.xml, framed[0]);
    out.write('<presence/>');
    out.close();
    expect(writes.map(text).join('')).toBe(`${m('1')}<presence/>`);
    expect(ended()).toBe('</stream:stream>');
  });

  it('sends a UTF-8 read as text (no bytes to point into)', async () => {
    const { framed, out, read, writes, tick } = framingAndWriting();
    read(HEADER);
    read(m('1', 'é'));
    expect(framed[0]!.source).toBeUndefined();
    out.write(framed[0]!.xml, framed[0]);
    await tick();
    expect(writes).toEqual([m('1', 'é')]);
  });
});

describe('XmppStream writing framed stanzas: what the bytes may not do', () => {
  it('copies a stanza that is a small part of a big read even when it fills the view it came in (the rest of a read held by a pause)', async () => {
    const { out, writes, text, tick } = framingAndWriting();
    const stanza = m('1');
    const big = Buffer.allocUnsafeSlow(8000).fill(0x20);
    big.write(stanza, 8000 - stanza.length, 'latin1');
    // What the parser holds after a pause near the end of a read: a view of its rest.
    const held = big.subarray(8000 - stanza.length);
    const f = new FramedStanza('message', stanza, 0, stanza.length, [], undefined, held);
    out.write(f.xml, f);
    await tick();
    expect((writes[0] as Uint8Array).buffer).not.toBe(big.buffer);
    expect(text(writes[0]!)).toBe(stanza);
  });

  it('sends the text, not the bytes, when what is written is not the framed stanza as it arrived', async () => {
    const { framed, out, read, writes, text, tick } = framingAndWriting();
    read(HEADER);
    read(m('1'));
    out.write(m('changed'), framed[0]);
    await tick();
    expect(writes.map(text)).toEqual([m('changed')]);
  });
});
