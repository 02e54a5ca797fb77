import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Element } from '@xmpp/xml';
import { XmppStream } from '../../src/proxy/stream.js';
import type { ParseFailure } from '../../src/protocol/parser.js';

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

  it('frames a stanza that two ASCII reads cut, inside its start tag or its body, once both are in', () => {
    const socket = new Socket();
    const framed: string[] = [];
    new XmppStream(socket, { maxStanzaBytes: 4096, maxDepth: 64 }, {
      onHeader: () => {},
      onStanza: () => {},
      onFramed: (f) => (framed.push(f.xml), true),
      onEnd: () => {},
      onFailure: () => {},
      onClose: () => {},
    });
    const m = (id: string) => `<message from='bot@pubsub.example.test' to='u@example.test' id='${id}'><body>hi</body></message>`;
    const all = m('1') + m('2') + m('3');
    socket.emit('data', Buffer.from(HEADER));
    // The rest of the first read (an unfinished start tag) is joined to the second as bytes.
    socket.emit('data', Buffer.from(all.slice(0, m('1').length + 20)));
    socket.emit('data', Buffer.from(all.slice(m('1').length + 20)));
    expect(framed).toEqual([m('1'), m('2'), m('3')]);
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

