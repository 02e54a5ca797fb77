/**
 * The driver of one online component: two streams (the component's and
 * privguard's own to the server) around one engine Link. It relays what the
 * link emits, keeps backpressure (a full socket on one side pauses reads on the
 * other), applies the component's rate, and turns the link's deadlines into one
 * timer. Decisions, tables and answers are the link's (engine/link.ts).
 */
import type { Element } from '@xmpp/xml';
import type { Mode } from '../config/schema.js';
import type { DecisionEvent, EndReason } from '../engine/decision.js';
import type { LinkEffects } from '../engine/effects.js';
import { Link } from '../engine/link.js';
import type { StreamErrorCondition } from '../protocol/ns.js';
import type { CompiledComponent } from '../policy/compile.js';
import type { SubscriptionLedger } from '../policy/subscriptions.js';
import type { Logger } from '../observe/log.js';
import { noMetrics, type Metrics } from '../observe/metrics.js';
import { TokenBucket } from './ratelimit.js';
import type { XmppStream } from './stream.js';

export interface SessionOptions {
  component: { name: string; rate?: { per_second: number; burst: number } | undefined }; // never its secrets
  compiled: CompiledComponent;
  mode: Mode;
  pendingTimeoutMs: number;
  maxPending: number;
  /** The component's stream (privguard is the server there), and privguard's own to the XMPP server. */
  client: XmppStream;
  server: XmppStream;
  log: Logger;
  decisions: (event: DecisionEvent) => void;
  metrics?: Metrics;
  subscriptions?: SubscriptionLedger; // kept across the component's reconnects by the listener
  onClosed: () => void;
}

export type SessionState = 'online' | 'closing' | 'closed';

/** A read-only snapshot, for /readyz, metrics and tests. */
export interface SessionStats {
  component: string;
  state: SessionState;
  /** Why reading from the component is paused (e.g. backpressure). */
  componentPaused: string[];
  serverPaused: string[];
  /** Bytes privguard holds for the server / for the component. */
  toServerBuffered: number;
  toComponentBuffered: number;
  /** IQs waiting: privileged ones for the server, delegated ones for the component. */
  pendingPrivileged: number;
  pendingDelegated: number;
  /** Server domains whose advertisement arrived. */
  advertised: string[];
}

const now = (): number => performance.now();

export class Session {
  readonly name: string;
  readonly #link: Link;
  readonly #client: XmppStream;
  readonly #server: XmppStream;
  readonly #metrics: Metrics;
  readonly #onClosed: () => void;
  #state: SessionState = 'online';
  #closedSides = 0;
  readonly #waitingDrain = new Set<XmppStream>();
  readonly #bucket: TokenBucket | undefined;
  #rateTimer: NodeJS.Timeout | undefined;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #reportedPrivileged = 0; // what the pending gauges were last told
  #reportedDelegated = 0;

  constructor(opts: SessionOptions) {
    const name = (this.name = opts.component.name);
    const { client, server, log } = opts;
    this.#client = client;
    this.#server = server;
    this.#onClosed = opts.onClosed;
    const metrics = (this.#metrics = opts.metrics ?? noMetrics());
    const rate = opts.component.rate;
    if (rate) this.#bucket = new TokenBucket(rate.per_second, rate.burst);
    const effects: LinkEffects = {
      toComponent: (xml, kind) => {
        if (kind !== undefined) metrics.stanza('to_component', kind);
        this.#relay(client, server, xml);
      },
      toServer: (xml, kind) => {
        if (kind !== undefined) metrics.stanza('to_server', kind);
        this.#relay(server, client, xml);
      },
      closeStreams: (condition, text) => {
        if (this.#state === 'online') this.#state = 'closing';
        clearTimeout(this.#rateTimer);
        clearTimeout(this.#deadlineTimer);
        client.close(condition, text);
        server.close();
      },
      decision: opts.decisions,
      log: (level, fields, message) => log[level](fields, message),
      decisionTime: (s) => metrics.decisionTime(s),
    };
    const { compiled, mode, pendingTimeoutMs, maxPending, subscriptions } = opts;
    const link = (this.#link = new Link({ name, compiled, mode, pendingTimeoutMs, maxPending, now, effects, timed: metrics.enabled, subscriptions }));

    client.setHandlers({
      onHeader: () => {},
      onStanza: (el, raw) => {
        if (!link.open) return;
        this.#throttle();
        link.fromComponent(el, raw);
        this.#after();
      },
      onFramed: (f) => {
        if (!link.framedFromComponent(f)) return false;
        this.#throttle();
        return true;
      },
      onWhitespace: () => this.#relay(server, client, ' '),
      onEnd: () => link.close('component_gone'),
      onFailure: (f) => {
        log.warn({ component: name, condition: f.condition }, `component ${name} sent bad XML: ${f.text}`);
        link.close('component_gone', f.condition, f.text);
      },
      onClose: () => this.#sideClosed('component_gone'),
    });
    server.setHandlers({
      onHeader: () => {},
      onStanza: (el) => {
        link.fromServer(el);
        this.#after();
      },
      onFramed: (f) => link.framedFromServer(f),
      onWhitespace: () => this.#relay(client, server, ' '),
      onEnd: () => {
        log.info({ component: name }, `the server closed the stream of ${name}`);
        link.close('server_gone');
      },
      onFailure: (f) => {
        log.error({ component: name, condition: f.condition }, `the server sent bad XML on ${name}'s stream: ${f.text}`);
        server.close(f.condition, f.text);
        link.close('server_gone', 'remote-connection-failed', 'the connection to the XMPP server failed');
      },
      onClose: () => {
        if (link.open) log.warn({ component: name }, `connection to the server lost for ${name}`);
        link.close('server_gone', 'remote-connection-failed', 'the connection to the XMPP server was lost');
        this.#sideClosed('server_gone');
      },
    });
  }

  get state(): SessionState {
    return this.#state;
  }

  stats(): SessionStats {
    return {
      component: this.name,
      state: this.#state,
      componentPaused: this.#client.pausedFor,
      serverPaused: this.#server.pausedFor,
      toServerBuffered: this.#server.buffered,
      toComponentBuffered: this.#client.buffered,
      pendingPrivileged: this.#link.pendingPrivileged,
      pendingDelegated: this.#link.pendingDelegated,
      advertised: this.#link.advertised,
    };
  }

  /** The engine behind this session (snapshots, the status page). */
  get link(): Link {
    return this.#link;
  }

  /** A new compiled policy for this component (hot reload): the link re-decides what the server advertised. */
  applyPolicy(compiled: CompiledComponent, mode: Mode): void {
    this.#link.reload(compiled, mode);
    this.#after();
  }

  /** Deliver what arrived before the session existed (server first: its advertisements), then let both sides flow. */
  start(fromComponent: readonly Element[], fromServer: readonly Element[]): void {
    for (const el of fromServer) this.#link.fromServer(el);
    for (const el of fromComponent) this.#link.fromComponent(el);
    this.#after();
    this.#server.resume('attach');
  }

  /** Close both sides; pending IQs are answered first (with `why` as their reason); the component gets `condition`. */
  close(why: EndReason, condition?: StreamErrorCondition, text?: string): void {
    this.#link.close(why, condition, text);
  }

  #sideClosed(why: EndReason): void {
    this.#closedSides++;
    // One side went without a close from us: take the other one down too.
    if (this.#closedSides === 1) this.#link.close(why);
    if (this.#closedSides === 2 && this.#state !== 'closed') {
      this.#state = 'closed';
      this.#after();
      this.#onClosed();
    }
  }

  /** After a judged stanza: the pending gauges follow the link, and a timer waits for its next deadline. */
  #after(): void {
    const closed = this.#state === 'closed';
    const p = closed ? 0 : this.#link.pendingPrivileged;
    const d = closed ? 0 : this.#link.pendingDelegated;
    if (p !== this.#reportedPrivileged) this.#metrics.pending('privileged', p - this.#reportedPrivileged);
    if (d !== this.#reportedDelegated) this.#metrics.pending('delegated', d - this.#reportedDelegated);
    this.#reportedPrivileged = p;
    this.#reportedDelegated = d;
    if (this.#deadlineTimer !== undefined || (p + d === 0 && !this.#link.watching) || !this.#link.open) return;
    const at = this.#link.nextDeadline();
    if (at === undefined) return;
    this.#deadlineTimer = setTimeout(this.#onDeadline, Math.max(0, Math.ceil(at - now())) + 1);
    this.#deadlineTimer.unref();
  }

  readonly #onDeadline = (): void => {
    this.#deadlineTimer = undefined;
    this.#link.tick(now());
    this.#after();
  };

  /** rate: stop reading the component while it is over its rate (never drop: TCP holds the rest). */
  #throttle(): void {
    const wait = this.#bucket?.take() ?? 0;
    if (wait === 0 || this.#rateTimer) return;
    this.#client.pause('rate');
    this.#rateTimer = setTimeout(() => {
      this.#rateTimer = undefined;
      this.#client.resume('rate');
    }, wait);
    this.#rateTimer.unref();
  }

  /** Write to `dst`; if its buffer is full, stop reading `src` until it drains. */
  #relay(dst: XmppStream, src: XmppStream, xml: string): void {
    if (dst.write(xml) || src.state !== 'open' || this.#waitingDrain.has(dst)) return;
    this.#waitingDrain.add(dst);
    src.pause('backpressure');
    dst.socket.once('drain', () => {
      this.#waitingDrain.delete(dst);
      src.resume('backpressure');
    });
  }
}
