/**
 * In-process test peers: a component written by hand over a raw socket (for
 * hostile input the libraries cannot send) and a logger that records lines.
 * No server needed.
 */
import { connect, type Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import type { Logger } from '../../src/observe/log.js';
import { StreamParser, type ParseFailure, type StreamHeader } from '../../src/protocol/parser.js';
import { handshake } from '../../src/protocol/stanzas.js';
import { nextEvent, waitFor } from './wait.js';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const COMPONENT_SECRET = 'component-side-secret';

export function waitStanza(stanzas: Element[], pred: (el: Element) => boolean, what: string, timeoutMs = 5000): Promise<Element> {
  return waitFor(what, () => stanzas.find(pred), timeoutMs);
}

/**
 * A component written by hand over a raw socket: what it receives is parsed
 * with privguard's own parser into `stanzas`, the stream error (if any) into
 * `streamError`, and `closed` settles when the socket closes.
 */
export class RawComponent {
  readonly socket: Socket;
  readonly stanzas: Element[] = [];
  header: StreamHeader | undefined;
  received = '';
  failure: ParseFailure | undefined;
  ended = false;
  readonly closed: Promise<void>;
  #parser: StreamParser;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.#parser = new StreamParser(
      {
        onHeader: (h) => (this.header = h),
        onStanza: (el) => void this.stanzas.push(el),
        onEnd: () => (this.ended = true),
      },
      { maxStanzaBytes: 1 << 24, maxDepth: 1000 },
    );
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.received += d;
      this.failure ??= this.#parser.write(d);
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  static async open(port: number, name: string, secret = COMPONENT_SECRET): Promise<RawComponent> {
    const raw = new RawComponent(port);
    await nextEvent(raw.socket, 'connect');
    raw.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${name}'>`);
    await waitFor('stream header', () => raw.header);
    raw.write(handshake(raw.header!.attrs.id!, secret));
    await raw.waitFor((el) => el.name === 'handshake' || (el.name === 'error'), 'handshake answer');
    return raw;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  waitFor(pred: (el: Element) => boolean, what: string, timeoutMs = 5000): Promise<Element> {
    return waitStanza(this.stanzas, pred, what, timeoutMs);
  }

  /** The stream error condition privguard closed the stream with. */
  async streamError(timeoutMs = 5000): Promise<string> {
    const el = await this.waitFor((e) => e.name === 'error' && e.attrs.xmlns === 'http://etherx.jabber.org/streams', 'stream error', timeoutMs);
    const cond = el.children.find((c): c is Element => typeof c !== 'string' && c.name !== 'text');
    return cond?.name ?? '';
  }
}

