/**
 * The XEP-0114 server side: accepts component connections, answers the stream
 * header with an unpredictable stream id, checks the handshake in constant
 * time, and only then opens the component's upstream. The component gets
 * `<handshake/>` once the server has accepted privguard's own handshake, so it
 * never believes it is connected while the server refused the name.
 *
 * Per RFC 6120 §4.9.1.2, header-level errors are sent after our own header.
 * A second connection for a connected component is refused (`conflict`), as
 * Prosody does by default.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Element } from '@xmpp/xml';
import type { ComponentConfig, LoadedPolicy } from '../config/load.js';
import { PrivguardError } from '../errors.js';
import { classifyTopLevel } from '../protocol/classify.js';
import { normaliseDomain } from '../protocol/jid.js';
import { NS, type StreamErrorCondition } from '../protocol/ns.js';
import type { ParserLimits } from '../protocol/parser.js';
import { HANDSHAKE_OK, handshakeDigest, serverStreamHeader } from '../protocol/stanzas.js';
import type { Logger } from '../observe/log.js';
import type { DecisionEvent } from '../engine/decision.js';
import { noMetrics, type Metrics } from '../observe/metrics.js';
import type { CompiledPolicy } from '../policy/compile.js';
import { connectUpstream, type UpstreamLink, type UpstreamOptions } from './upstream.js';
import { SubscriptionLedger } from '../policy/subscriptions.js';
import { Session } from './session.js';
import { XmppStream } from './stream.js';

/** Depth bound for every stanza, both legs (DESIGN.md threat model 7). */
export const MAX_DEPTH = 64;
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ListenerOptions {
  /** The live policy; read on every new connection. */
  policy: () => LoadedPolicy;
  /** The same policy, compiled for the decisions. */
  compiled: () => CompiledPolicy;
  log: Logger;
  /** Where every decision event goes (observe/events.ts). */
  decisions: (event: DecisionEvent) => void;
  metrics?: Metrics;
  /** Overrides for tests (retry delays, timeouts). */
  upstream?: Pick<UpstreamOptions, 'retryDelaysMs' | 'timeoutMs'>;
  /** From TCP accept to a verified handshake (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Told when a component comes online (true) and when its session ends (false): the status page. */
  onPresence?: (component: string, online: boolean) => void;
}

export function parserLimits(policy: LoadedPolicy): ParserLimits {
  return { maxStanzaBytes: policy.policy.limits.max_stanza_bytes, maxDepth: MAX_DEPTH };
}

export class Listener {
  #opts: ListenerOptions;
  #server: Server;
  /** Components that authenticated (connecting upstream or online). */
  #active = new Map<string, { session?: Session; abort: AbortController }>();
  #sockets = new Set<Socket>();
  #metrics: Metrics;
  /** Per component: the subscriptions privguard has seen, kept across its reconnects (the server keeps them too). */
  #subscriptions = new Map<string, SubscriptionLedger>();

  constructor(opts: ListenerOptions) {
    this.#opts = opts;
    this.#metrics = opts.metrics ?? noMetrics();
    this.#server = createServer((socket) => this.#accept(socket));
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(new PrivguardError('PG_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${e.message}`, { cause: e }));
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /**
   * A new policy is in force: sessions of components it no longer names are
   * closed (not-authorized); the others take it without losing their connection.
   * New connections read the new policy (secrets included) by themselves.
   */
  applyPolicy(compiled: CompiledPolicy): void {
    for (const session of this.sessions) {
      const c = compiled.components.get(session.name);
      if (!c) {
        this.#opts.log.warn({ component: session.name }, `${session.name} is no longer in the policy: disconnecting it`);
        session.close('policy_removed', 'not-authorized', 'privguard: this component was removed from the policy');
      } else {
        session.applyPolicy(c, compiled.mode);
      }
    }
  }

  get sessions(): Session[] {
    return [...this.#active.values()].flatMap((a) => (a.session ? [a.session] : []));
  }

  /** Stop accepting, close every session with `condition`, wait for the sockets to go. */
  async close(condition: StreamErrorCondition = 'system-shutdown'): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const a of this.#active.values()) {
      a.abort.abort();
      a.session?.close('shutdown', condition, 'privguard is shutting down');
    }
    for (const socket of this.#sockets) socket.end();
    await closed;
  }

  #accept(socket: Socket): void {
    const policy = this.#opts.policy();
    const log = this.#opts.log;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));

    const streamId = randomBytes(16).toString('hex');
    let phase: 'header' | 'handshake' | 'connecting' | 'online' | 'closed' = 'header';
    let headerSent = false;
    let component: ComponentConfig | undefined;
    let claimed = false;
    const queued: Element[] = [];

    const sendHeader = (from: string | undefined) => {
      if (headerSent) return;
      headerSent = true;
      stream.write(serverStreamHeader(from, streamId));
    };
    const refuse = (condition: StreamErrorCondition, text: string) => {
      sendHeader(undefined);
      log.warn({ peer, component: component?.name, condition }, `component connection refused: ${condition} (${text})`);
      phase = 'closed';
      stream.close(condition, text);
    };
    const timer = setTimeout(
      () => refuse('connection-timeout', 'no handshake in time'),
      this.#opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    );
    timer.unref();

    const stream: XmppStream = new XmppStream(socket, parserLimits(policy), {
      onHeader: (header) => {
        const to = header.attrs.to;
        sendHeader(to !== undefined ? normaliseDomain(to) ?? undefined : undefined);
        if (header.local !== 'stream' || header.ns !== NS.streams) {
          return refuse('invalid-namespace', 'the stream root must be <stream:stream> in http://etherx.jabber.org/streams');
        }
        if (header.defaultNs !== NS.component) {
          return refuse('invalid-namespace', `the stream namespace must be ${NS.component}`);
        }
        if (to === undefined) return refuse('improper-addressing', 'the stream header has no "to"');
        const name = normaliseDomain(to);
        component = name === undefined ? undefined : policy.components.get(name);
        if (!component) return refuse('host-unknown', `${to} is not a component privguard serves`);
        phase = 'handshake';
      },
      onStanza: (el) => {
        if (phase === 'connecting') {
          // Pipelined before our <handshake/>: held until the session is up.
          queued.push(el);
          return;
        }
        if (phase !== 'handshake' || !component) return refuse('not-authorized', 'stanza before the handshake');
        const top = classifyTopLevel(el);
        if (top.kind !== 'handshake' || el.getChildElements().length > 0) {
          return refuse('not-authorized', 'stanza before the handshake');
        }
        if (!digestMatches(el.getText(), handshakeDigest(streamId, component.secret))) {
          return refuse('not-authorized', 'handshake does not match the secret');
        }
        if (this.#active.has(component.name)) return refuse('conflict', `${component.name} is already connected`);
        claimed = true;
        phase = 'connecting';
        clearTimeout(timer);
        const abort = new AbortController();
        this.#active.set(component.name, { abort });
        stream.pause('connecting');
        void this.#goOnline(component, stream, queued, abort).then(
          () => {
            phase = 'online';
          },
          () => {
            phase = 'closed';
          },
        );
      },
      onEnd: () => stream.close(),
      onFailure: (failure) => {
        sendHeader(undefined);
        log.warn({ peer, component: component?.name, condition: failure.condition }, `component stream error: ${failure.text}`);
      },
      onClose: () => {
        clearTimeout(timer);
        if (claimed && component && phase === 'connecting') this.#active.get(component.name)?.abort.abort();
      },
    });
  }

  #subscriptionsOf(name: string): SubscriptionLedger {
    let ledger = this.#subscriptions.get(name);
    if (!ledger) this.#subscriptions.set(name, (ledger = new SubscriptionLedger()));
    return ledger;
  }

  async #goOnline(component: ComponentConfig, stream: XmppStream, queued: Element[], abort: AbortController): Promise<void> {
    const policy = this.#opts.policy();
    const { log } = this.#opts;
    const { host, port } = policy.policy.upstream;
    let link: UpstreamLink;
    try {
      link = await connectUpstream({
        host,
        port,
        component: component.name,
        secret: component.upstreamSecret,
        limits: parserLimits(policy),
        log,
        signal: abort.signal,
        ...this.#opts.upstream,
      });
    } catch (e) {
      this.#active.delete(component.name);
      const reason = e instanceof Error ? e.message : String(e);
      const code = e instanceof PrivguardError ? e.code : 'PG_UPSTREAM_UNREACHABLE';
      this.#metrics.upstreamFailure(code);
      log.error({ component: component.name, upstream: `${host}:${port}`, code }, `upstream for ${component.name} failed: ${reason}`);
      stream.close('remote-connection-failed', 'the XMPP server did not accept the component');
      throw e;
    }
    if (abort.signal.aborted || stream.state !== 'open') {
      this.#active.delete(component.name);
      link.stream.close();
      throw new PrivguardError('PG_UPSTREAM_UNREACHABLE', 'component went away');
    }
    const compiled = this.#opts.compiled();
    const session = new Session({
      component: { name: component.name, rate: component.policy.rate },
      compiled: compiled.components.get(component.name)!,
      mode: compiled.mode,
      pendingTimeoutMs: compiled.pendingTimeoutMs,
      maxPending: compiled.maxPending,
      client: stream,
      server: link.stream,
      log,
      decisions: this.#opts.decisions,
      metrics: this.#metrics,
      subscriptions: this.#subscriptionsOf(component.name),
      onClosed: () => {
        this.#metrics.componentConnected(-1);
        this.#opts.onPresence?.(component.name, false);
        if (this.#active.get(component.name)?.session === session) this.#active.delete(component.name);
      },
    });
    this.#metrics.componentConnected(1);
    this.#opts.onPresence?.(component.name, true);
    this.#active.set(component.name, { session, abort });
    stream.write(HANDSHAKE_OK);
    log.info({ component: component.name, upstream: `${host}:${port}` }, `component ${component.name} online`);
    session.start(queued, link.early);
    stream.resume('connecting');
  }
}

/** XEP-0114 handshake check: constant time, case-insensitive hex. */
export function digestMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given.trim().toLowerCase(), 'utf8');
  const b = Buffer.from(expected, 'utf8');
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}
