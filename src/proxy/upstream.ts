/**
 * The XEP-0114 client side: privguard's own connection to the server for one
 * component, authenticated with the upstream secret (which never leaves this
 * module except as a SHA-1 digest on this socket). A refused or timed-out
 * connection is retried with backoff within a bounded number of attempts; a
 * server that rejects the handshake is not retried.
 */
import { connect, type NetConnectOpts } from 'node:net';
import type { Element } from '@xmpp/xml';
import { PrivguardError } from '../errors.js';
import { classifyTopLevel } from '../protocol/classify.js';
import { NS } from '../protocol/ns.js';
import type { ParserLimits } from '../protocol/parser.js';
import { clientStreamHeader, handshake } from '../protocol/stanzas.js';
import type { Logger } from '../observe/log.js';
import { XmppStream } from './stream.js';

export interface UpstreamOptions {
  host: string;
  port: number;
  /** The component's name, used as the stream's `to`. */
  component: string;
  secret: string;
  limits: ParserLimits;
  log: Logger;
  /** Per attempt: connect + stream header + handshake. */
  timeoutMs?: number;
  /** Delays between attempts; their count + 1 is the number of attempts. */
  retryDelaysMs?: readonly number[];
  signal?: AbortSignal;
}

/** An authenticated upstream stream, paused, with what the server sent right after the handshake. */
export interface UpstreamLink {
  stream: XmppStream;
  early: Element[];
}

export const DEFAULT_RETRY_DELAYS_MS = [100, 300, 900] as const;

export async function connectUpstream(opts: UpstreamOptions): Promise<UpstreamLink> {
  const delays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const attempts = delays.length + 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptUpstream(opts);
    } catch (e) {
      const err = e instanceof PrivguardError ? e : new PrivguardError('PG_UPSTREAM_UNREACHABLE', String(e), { cause: e });
      const retryable = err.code === 'PG_UPSTREAM_UNREACHABLE' || err.code === 'PG_UPSTREAM_TIMEOUT';
      const delay = delays[attempt - 1];
      if (!retryable || delay === undefined || opts.signal?.aborted) throw err;
      opts.log.warn(
        { component: opts.component, upstream: `${opts.host}:${opts.port}`, code: err.code, attempt, attempts },
        `upstream ${opts.host}:${opts.port} for ${opts.component}: ${err.message}; retrying in ${delay} ms (attempt ${attempt}/${attempts})`,
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * What privguard may hold for the server before it stops reading the
 * component (node's default is 16 KiB). Under a flood the server is the slow
 * side, and every pause and resume of the component costs about as much as
 * deciding a few stanzas; at 64 KiB they come a quarter as often (-9% CPU per
 * privileged stanza in a paired A/B) for at most 48 KiB more per component.
 * (The option reaches the socket's Duplex; @types/node does not list it.)
 */
const UPSTREAM_HIGH_WATER = 64 * 1024;

function attemptUpstream(opts: UpstreamOptions): Promise<UpstreamLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: opts.host, port: opts.port, writableHighWaterMark: UPSTREAM_HIGH_WATER } as NetConnectOpts);
    const early: Element[] = [];
    let phase: 'header' | 'handshake' | 'online' | 'failed' = 'header';
    let streamId: string | undefined;
    const fail = (err: PrivguardError) => {
      if (phase === 'failed' || phase === 'online') return;
      phase = 'failed';
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      stream.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () => fail(new PrivguardError('PG_UPSTREAM_TIMEOUT', `no handshake answer within ${opts.timeoutMs ?? 10_000} ms`)),
      opts.timeoutMs ?? 10_000,
    );
    const onAbort = () => fail(new PrivguardError('PG_UPSTREAM_UNREACHABLE', 'component went away'));
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const stream = new XmppStream(socket, { ...opts.limits, serverStream: true }, {
      onHeader(header) {
        if (header.local !== 'stream' || header.ns !== NS.streams || header.defaultNs !== NS.component) {
          fail(new PrivguardError('PG_UPSTREAM_REJECTED', 'the server did not open a jabber:component:accept stream'));
          return;
        }
        streamId = header.attrs.id;
        if (!streamId) {
          fail(new PrivguardError('PG_UPSTREAM_REJECTED', 'the server sent no stream id'));
          return;
        }
        phase = 'handshake';
        stream.write(handshake(streamId, opts.secret));
      },
      onStanza(el) {
        const top = classifyTopLevel(el);
        if (phase === 'online') {
          early.push(el);
          return;
        }
        if (top.kind === 'handshake') {
          phase = 'online';
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          // Hold the server's first stanzas until a session takes the stream over.
          stream.pause('attach');
          resolve({ stream, early });
          return;
        }
        if (top.kind === 'stream-error') {
          const text = top.text ? ` (${top.text})` : '';
          fail(new PrivguardError('PG_UPSTREAM_REJECTED', `the server refused the component: ${top.condition ?? 'stream error'}${text}`));
          return;
        }
        fail(new PrivguardError('PG_UPSTREAM_REJECTED', `unexpected <${top.kind === 'other' ? top.name : top.kind}> before the handshake`));
      },
      onEnd() {
        fail(new PrivguardError('PG_UPSTREAM_REJECTED', 'the server closed the stream during the handshake'));
      },
      onFailure(f) {
        fail(new PrivguardError('PG_UPSTREAM_REJECTED', `the server sent bad XML: ${f.text}`));
      },
      onClose() {
        fail(new PrivguardError('PG_UPSTREAM_UNREACHABLE', lastError ?? 'connection closed during the handshake'));
      },
    });
    let lastError: string | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => {
      lastError = e.code === 'ECONNREFUSED' ? 'connection refused' : `${e.code ?? 'socket error'}: ${e.message}`;
    });
    socket.on('connect', () => stream.write(clientStreamHeader(opts.component)));
  });
}
