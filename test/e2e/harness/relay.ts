/**
 * A recording TCP relay for a component's XEP-0114 connection: the component
 * connects to the relay, the relay to the component's upstream (the server or
 * privguard). Bytes pass unchanged; each direction is also parsed into
 * stanzas (top-level children of the stream) so a test can read what the
 * component received and sent, whoever was on the other side.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Parser, type Element } from '@xmpp/xml';
import { freePort } from '../../support/ports.js';

export interface Relay {
  port: number;
  /** Stanzas the upstream sent to the component, in order (all connections). */
  toComponent: Element[];
  /** Stanzas the component sent upstream. */
  fromComponent: Element[];
  close(): Promise<void>;
}

function recorder(into: Element[]): (chunk: Buffer) => void {
  const parser = new Parser();
  parser.on('element', (el: Element) => void into.push(el));
  // A parse error only ends the recording of this direction; the bytes still pass.
  let broken = false;
  parser.on('error', () => (broken = true));
  return (chunk) => {
    if (!broken) parser.write(chunk.toString('utf8'));
  };
}

export async function startRelay(upstreamPort: number): Promise<Relay> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const relay: Relay = { port, toComponent: [], fromComponent: [], close: async () => {} };
  const server: Server = createServer((down) => {
    const up = createConnection({ host: '127.0.0.1', port: upstreamPort });
    sockets.add(down).add(up);
    const recordUp = recorder(relay.fromComponent);
    const recordDown = recorder(relay.toComponent);
    down.on('data', (d: Buffer) => {
      recordUp(d);
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      recordDown(d);
      down.write(d);
    });
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  relay.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return relay;
}
