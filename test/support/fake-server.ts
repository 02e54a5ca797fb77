/**
 * A scripted XEP-0114 server for proxy tests: it accepts privguard's upstream
 * connections, checks the handshake, records what arrives and writes what the
 * test tells it to. It can stop reading (backpressure), never answer (timeout)
 * or write stray text between stanzas (as real Prosody does).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import { StreamParser } from '../../src/protocol/parser.js';
import { handshakeDigest, serverStreamHeader, streamError, STREAM_END } from '../../src/protocol/stanzas.js';

export interface FakeConnection {
  socket: Socket;
  to: string | undefined;
  stanzas: Element[];
  /** Everything received after the handshake, as text. */
  raw: string;
  ended: boolean;
  closed: boolean;
  send(xml: string): void;
}

export interface FakeServerOptions {
  secret?: string;
  /** Never answer the stream header (to exercise privguard's timeout). */
  silent?: boolean;
  /** Written right after `<handshake/>`, in the same write. */
  afterHandshake?: string;
}

export class FakeServer {
  readonly server: Server;
  readonly connections: FakeConnection[] = [];
  readonly sockets = new Set<Socket>();
  port = 0;

  constructor(readonly opts: FakeServerOptions = {}) {
    this.server = createServer((s) => this.#accept(s));
  }

  static async start(opts: FakeServerOptions = {}): Promise<FakeServer> {
    const f = new FakeServer(opts);
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    f.port = (f.server.address() as { port: number }).port;
    return f;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  #accept(socket: Socket): void {
    socket.on('error', () => {});
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    if (this.opts.silent) return;
    const id = `fake-${Math.random().toString(36).slice(2)}`;
    let authed = false;
    const conn: FakeConnection = {
      socket,
      to: undefined,
      stanzas: [],
      raw: '',
      ended: false,
      closed: false,
      send: (xml) => void socket.write(xml),
    };
    socket.once('close', () => (conn.closed = true));
    const parser = new StreamParser(
      {
        onHeader: (h) => {
          conn.to = h.attrs.to;
          socket.write(serverStreamHeader(h.attrs.to, id));
        },
        onStanza: (el) => {
          if (!authed) {
            if (el.name === 'handshake' && el.getText() === handshakeDigest(id, this.opts.secret ?? 's3cr3t')) {
              authed = true;
              socket.write(`<handshake/>${this.opts.afterHandshake ?? ''}`);
              this.connections.push(conn);
            } else {
              socket.end(streamError('not-authorized', 'Given token does not match calculated token') + STREAM_END);
            }
            return;
          }
          conn.stanzas.push(el);
        },
        onEnd: () => {
          conn.ended = true;
          socket.end(STREAM_END);
        },
      },
      { maxStanzaBytes: 1 << 24, maxDepth: 1000 },
    );
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      if (authed) conn.raw += d;
      parser.write(d);
    });
  }
}
