/**
 * One online component paired with its upstream stream. The session applies
 * verdicts; it does not make them (policy/ does). Every stanza is re-serialised
 * from the tree that was judged. When either side goes, the other is closed
 * cleanly; backpressure on one side pauses reads on the other.
 *
 * So far: addressing and top-level checks component → server; everything else
 * is relayed unchanged. Privilege and delegation enforcement hook in here.
 */
import type { Element } from '@xmpp/xml';
import type { ComponentConfig } from '../config/load.js';
import { classifyTopLevel } from '../protocol/classify.js';
import { isStreamErrorCondition, type StreamErrorCondition } from '../protocol/ns.js';
import { serialize } from '../protocol/serialize.js';
import { checkComponentElement } from '../policy/addressing.js';
import type { AuditSink } from '../observe/audit.js';
import type { Logger } from '../observe/log.js';
import type { XmppStream } from './stream.js';

export interface SessionOptions {
  component: ComponentConfig;
  /** The component's stream (privguard is the server there). */
  client: XmppStream;
  /** privguard's stream to the XMPP server. */
  server: XmppStream;
  log: Logger;
  audit: AuditSink;
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
}

export class Session {
  readonly component: ComponentConfig;
  #client: XmppStream;
  #server: XmppStream;
  #log: Logger;
  #audit: AuditSink;
  #onClosed: () => void;
  #state: SessionState = 'online';
  #closedSides = 0;
  #waitingDrain = new Set<XmppStream>();

  constructor(opts: SessionOptions) {
    this.component = opts.component;
    this.#client = opts.client;
    this.#server = opts.server;
    this.#log = opts.log;
    this.#audit = opts.audit;
    this.#onClosed = opts.onClosed;
    const name = this.component.name;

    this.#client.setHandlers({
      onHeader: () => {},
      onStanza: (el) => this.#fromComponent(el),
      onWhitespace: () => this.#relay(this.#server, this.#client, ' '),
      onEnd: () => this.close(),
      onFailure: (f) => {
        this.#log.warn({ component: name, condition: f.condition }, `component ${name} sent bad XML: ${f.text}`);
        this.#beginClose();
        this.#server.close();
      },
      onClose: () => this.#sideClosed(),
    });
    this.#server.setHandlers({
      onHeader: () => {},
      onStanza: (el) => this.#fromServer(el),
      onWhitespace: () => this.#relay(this.#client, this.#server, ' '),
      onEnd: () => {
        this.#log.info({ component: name }, `the server closed the stream of ${name}`);
        this.close();
      },
      onFailure: (f) => {
        this.#log.error({ component: name, condition: f.condition }, `the server sent bad XML on ${name}'s stream: ${f.text}`);
        this.#beginClose();
        this.#client.close('remote-connection-failed', 'the connection to the XMPP server failed');
      },
      onClose: () => {
        if (this.#state === 'online') {
          this.#log.warn({ component: name }, `connection to the server lost for ${name}`);
          this.#beginClose();
          this.#client.close('remote-connection-failed', 'the connection to the XMPP server was lost');
        }
        this.#sideClosed();
      },
    });
  }

  get state(): SessionState {
    return this.#state;
  }

  stats(): SessionStats {
    return {
      component: this.component.name,
      state: this.#state,
      componentPaused: this.#client.pausedFor,
      serverPaused: this.#server.pausedFor,
      toServerBuffered: this.#server.buffered,
      toComponentBuffered: this.#client.buffered,
    };
  }

  /** Deliver what arrived before the session existed, then let both sides flow. */
  start(fromComponent: readonly Element[], fromServer: readonly Element[]): void {
    for (const el of fromServer) this.#fromServer(el);
    for (const el of fromComponent) this.#fromComponent(el);
    this.#server.resume('attach');
  }

  /** Close both sides cleanly; with a condition, the component gets that stream error. */
  close(condition?: StreamErrorCondition, text?: string): void {
    this.#beginClose();
    this.#client.close(condition, text);
    this.#server.close();
  }

  #beginClose(): void {
    if (this.#state === 'online') this.#state = 'closing';
  }

  #sideClosed(): void {
    this.#closedSides++;
    if (this.#closedSides === 1) {
      // One side went without a close from us: take the other one down too.
      this.close();
    }
    if (this.#closedSides === 2 && this.#state !== 'closed') {
      this.#state = 'closed';
      this.#onClosed();
    }
  }

  #fromComponent(el: Element): void {
    if (this.#state !== 'online') return;
    const top = classifyTopLevel(el);
    if (top.kind === 'stream-error') {
      this.#log.warn({ component: this.component.name, condition: top.condition }, `component closed its stream with an error`);
      this.close();
      return;
    }
    const verdict = checkComponentElement(this.component.name, top, el);
    if (verdict.action === 'reject') {
      this.#denyStream(verdict.streamError.condition, verdict.streamError.text, verdict.reason, el);
      return;
    }
    this.#relay(this.#server, this.#client, serialize(el));
  }

  #fromServer(el: Element): void {
    if (this.#state !== 'online') return;
    const top = classifyTopLevel(el);
    if (top.kind === 'stream-error') {
      const condition = top.condition && isStreamErrorCondition(top.condition) ? top.condition : 'remote-connection-failed';
      this.#log.warn(
        { component: this.component.name, condition: top.condition },
        `the server closed ${this.component.name}'s stream: ${top.condition ?? 'stream error'}${top.text ? ` (${top.text})` : ''}`,
      );
      this.close(condition, top.text);
      return;
    }
    this.#relay(this.#client, this.#server, serialize(el));
  }

  #denyStream(condition: StreamErrorCondition, text: string, reason: string, el: Element): void {
    const id = el.attrs.id as string | undefined;
    this.#audit.write({
      component: this.component.name,
      action: `stanza.${el.name}`,
      verdict: 'denied',
      reason,
      ...(id !== undefined ? { stanza_id: id } : {}),
    });
    this.#log.warn({ component: this.component.name, condition, reason }, `closing ${this.component.name}: ${text}`);
    this.close(condition, text);
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
