/**
 * A recording TCP relay for a component that runs in another process (slidge,
 * Libervia PubSub): it listens on a free loopback port, connects each incoming
 * connection to `targetPort` (the server, or privguard), copies the bytes both
 * ways unchanged, and parses each direction into stanzas with privguard's own
 * parser. `received` holds what the component received (for compare.ts),
 * `sent` what it sent. One connection at a time is what components make;
 * a reconnect appends to the same lists.
 */
import { connect, createServer, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { Element } from '@xmpp/xml';
import { StreamParser } from '../../../src/protocol/parser.js';

export interface Tap {
  /** Where the component should connect. */
  port: number;
  /** Stanzas the component received (server → component), in order. */
  received: Element[];
  /** Stanzas the component sent (component → server), in order. */
  sent: Element[];
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

function parserInto(list: Element[], serverStream: boolean): StreamParser {
  return new StreamParser({ onHeader: () => {}, onStanza: (el) => void list.push(el), onEnd: () => {} }, { maxStanzaBytes: 1 << 24, maxDepth: 1000, serverStream });
}

export async function startTap(targetPort: number): Promise<Tap> {
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    tap.connections++;
    const up = connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(down);
    sockets.add(up);
    const toComponent = parserInto(tap.received, true);
    const fromComponent = parserInto(tap.sent, false);
    // A UTF-8 character may be split across reads.
    const downText = new StringDecoder('utf8');
    const upText = new StringDecoder('utf8');
    down.on('data', (d: Buffer) => {
      fromComponent.write(downText.write(d));
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      toComponent.write(upText.write(d));
      down.write(d);
    });
    const close = () => {
      down.destroy();
      up.destroy();
      sockets.delete(down);
      sockets.delete(up);
    };
    down.on('close', close);
    up.on('close', close);
    down.on('error', close);
    up.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const tap: Tap = {
    port: (server.address() as { port: number }).port,
    received: [],
    sent: [],
    connections: 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return tap;
}
