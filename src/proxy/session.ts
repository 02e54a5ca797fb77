/**
 * One online component paired with its upstream stream. The session applies
 * verdicts; it does not make them (policy/ does). A judged stanza is
 * re-serialised from the tree that was judged; a fast-path stanza (nothing in
 * it is judged but its root: protocol/frame.ts, policy/framed.ts) goes on as
 * it arrived. When either side goes, the other is closed cleanly; backpressure
 * on one side pauses reads on the other.
 *
 * It holds the per-connection state the decisions read: the effective grants
 * per server domain (from the server's advertisements on this connection) and
 * the privileged IQs waiting for the server. In `report` mode the same verdicts
 * are computed and audited as `would_deny`, and the original stanza goes on.
 */
import type { Element } from '@xmpp/xml';
import type { ComponentConfig } from '../config/load.js';
import type { Mode } from '../config/schema.js';
import { classifyTopLevel } from '../protocol/classify.js';
import { isStreamErrorCondition, type StreamErrorCondition } from '../protocol/ns.js';
import { serialize } from '../protocol/serialize.js';
import { stanzaError } from '../protocol/stanzas.js';
import { checkComponentElement } from '../policy/addressing.js';
import type { CompiledComponent } from '../policy/compile.js';
import { effectiveGrant, type EffectiveGrant } from '../policy/grants.js';
import { effectiveDelegation, isNestingQuery } from '../policy/delegation.js';
import { decideInbound } from '../policy/inbound.js';
import { decideOutbound } from '../policy/outbound.js';
import { framedInboundPasses, framedOutboundPasses } from '../policy/framed.js';
import type { FramedStanza } from '../protocol/frame.js';
import { verdictText, type DelegatedIqTrack, type Verdict } from '../policy/verdict.js';
import { changesFromServer, changesToServer, SubscriptionLedger } from '../policy/subscriptions.js';
import { wrappedError } from '../protocol/delegation.js';
import { parseJid } from '../protocol/jid.js';
import { detectVersions, translate, type Versions } from '../protocol/translate.js';
import { buildAdvertisement, parseAdvertisement, type Advertisement } from '../protocol/privilege.js';
import type { AuditRecord, AuditSink, AuditVerdict } from '../observe/audit.js';
import type { Logger } from '../observe/log.js';
import { noMetrics, type Metrics } from '../observe/metrics.js';
import { DELEGATION_ACTIVATION_DEADLINE_MS, delegationNeverActivatedText, NestingWatch } from './nesting-watch.js';
import { PendingTable } from './pending.js';
import { TokenBucket } from './ratelimit.js';
import type { XmppStream } from './stream.js';
import type { LiveLink } from '../status/collect.js';

export interface SessionOptions {
  component: ComponentConfig;
  compiled: CompiledComponent;
  mode: Mode;
  pendingTimeoutMs: number;
  maxPending: number;
  /** The component's stream (privguard is the server there). */
  client: XmppStream;
  /** privguard's stream to the XMPP server. */
  server: XmppStream;
  log: Logger;
  audit: AuditSink;
  metrics?: Metrics;
  /** Subscriptions seen for this component so far (kept across its reconnects by the listener). */
  subscriptions?: SubscriptionLedger;
  onClosed: () => void;
}

export type SessionState = 'online' | 'closing' | 'closed';

const PRESENCE_DEDUP_MS = 1000;
const PRESENCE_DEDUP_MAX = 1000;

/** The server domain a JID belongs to (user@D/r → D). */
function domainOf(raw: unknown): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const j = parseJid(raw);
  return j.ok ? j.jid.domain : undefined;
}

function definedOnly(v: Versions): Versions {
  const out: Versions = {};
  if (v.privilege !== undefined) out.privilege = v.privilege;
  if (v.delegation !== undefined) out.delegation = v.delegation;
  return out;
}

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
  /** Privileged IQs waiting for the server. */
  pendingPrivileged: number;
  /** Delegated IQs waiting for the component. */
  pendingDelegated: number;
  /** Server domains whose advertisement arrived. */
  advertised: string[];
}

interface PendingPrivileged {
  request: Element;
  user: string;
  domain: string;
}

export class Session {
  readonly component: ComponentConfig;
  #compiled: CompiledComponent;
  #mode: Mode;
  #client: XmppStream;
  #server: XmppStream;
  #log: Logger;
  #audit: AuditSink;
  #onClosed: () => void;
  #state: SessionState = 'online';
  #closedSides = 0;
  #waitingDrain = new Set<XmppStream>();
  #grants = new Map<string, EffectiveGrant>();
  #warnedWider = new Set<string>();
  #pending: PendingTable<PendingPrivileged>;
  #metrics: Metrics;
  #bucket: TokenBucket | undefined;
  #rateTimer: NodeJS.Timeout | undefined;
  #reportedPending = { privileged: 0, delegated: 0 };
  #delegPending: PendingTable<DelegatedIqTrack>;
  /** What the server delegated on this connection: domain → namespace → attributes (additive). */
  #delegations = new Map<string, Map<string, readonly string[]>>();
  /** The namespace versions the server speaks, per domain, as seen on this connection. */
  #serverVersions = new Map<string, Versions>();
  /** The server's own privilege advertisements, per domain: what a new policy is applied to. */
  #serverAdvertisements = new Map<string, { adv: Advertisement; id: string | undefined }>();
  /** Presences sent to the component lately (ejabberd 23.01 forwards each twice). */
  #recentPresence = new Map<string, number>();
  #subscriptions: SubscriptionLedger;
  #isManaged = (domain: string): boolean => this.#compiled.privileges.has(domain);
  /** Says so when the server never activates delegation (ejabberd #4336). */
  #nesting = new NestingWatch((domain) =>
    this.#log.warn({ component: this.component.name, domain, bug: 'ejabberd#4336' }, delegationNeverActivatedText(domain, DELEGATION_ACTIVATION_DEADLINE_MS)),
  );

  constructor(opts: SessionOptions) {
    this.component = opts.component;
    this.#compiled = opts.compiled;
    this.#mode = opts.mode;
    this.#client = opts.client;
    this.#server = opts.server;
    this.#log = opts.log;
    this.#audit = opts.audit;
    this.#onClosed = opts.onClosed;
    this.#metrics = opts.metrics ?? noMetrics();
    this.#subscriptions = opts.subscriptions ?? new SubscriptionLedger();
    const rate = opts.component.policy.rate;
    if (rate) this.#bucket = new TokenBucket(rate.per_second, rate.burst);
    this.#pending = new PendingTable({
      max: opts.maxPending,
      timeoutMs: opts.pendingTimeoutMs,
      onTimeout: (_id, p) => {
        this.#answerPending(p, 'timeout');
        this.#reportPending();
      },
    });
    this.#delegPending = new PendingTable({
      max: opts.maxPending,
      timeoutMs: opts.pendingTimeoutMs,
      onTimeout: (_id, t) => {
        this.#answerDelegated(t, 'timeout');
        this.#reportPending();
      },
    });
    const name = this.component.name;

    this.#client.setHandlers({
      onHeader: () => {},
      onStanza: (el) => this.#fromComponent(el),
      onFramed: (f) => this.#framedFromComponent(f),
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
      onFramed: (f) => this.#framedFromServer(f),
      onWhitespace: () => this.#relay(this.#client, this.#server, ' '),
      onEnd: () => {
        this.#log.info({ component: name }, `the server closed the stream of ${name}`);
        this.#answerAllPending();
        this.close();
      },
      onFailure: (f) => {
        this.#log.error({ component: name, condition: f.condition }, `the server sent bad XML on ${name}'s stream: ${f.text}`);
        this.#answerAllPending();
        this.#beginClose();
        this.#client.close('remote-connection-failed', 'the connection to the XMPP server failed');
      },
      onClose: () => {
        if (this.#state === 'online') {
          this.#log.warn({ component: name }, `connection to the server lost for ${name}`);
          this.#answerAllPending();
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
      pendingPrivileged: this.#pending.size,
      pendingDelegated: this.#delegPending.size,
      advertised: [...this.#grants.keys()],
    };
  }

  /** What the status page shows of this link, read when the page is asked for. */
  statusView(): LiveLink {
    const advertised = new Map([...this.#serverAdvertisements].map(([d, a]) => [d, a.adv.grant] as const));
    return {
      view: {
        compiled: this.#compiled,
        policy: this.component.policy,
        advertised,
        grants: this.#grants,
        delegations: this.#delegations,
        serverVersions: (d) => this.#serverVersions.get(d) ?? {},
        componentVersions: (d) => this.#componentVersions(d),
      },
      heldBack: this.#client.pausedFor.includes('rate'),
      pending: {
        privileged: { count: this.#pending.size, oldestAt: this.#pending.oldestAt() },
        delegated: { count: this.#delegPending.size, oldestAt: this.#delegPending.oldestAt() },
      },
    };
  }

  /**
   * Take a new compiled policy for this component (hot reload). Delegated IQs
   * pending under a delegation the new policy no longer has are answered now
   * (service-unavailable), exactly once; the rest wait on.
   */
  applyPolicy(compiled: CompiledComponent, mode: Mode = this.#mode): void {
    this.#compiled = compiled;
    this.#mode = mode;
    if (this.#state !== 'online') return;
    // Effective rights anew, from what the server advertised: the component is told at once.
    for (const [domain, { adv, id }] of this.#serverAdvertisements) {
      const policy = compiled.privileges.get(domain);
      const { grant, wider } = effectiveGrant(domain, adv, policy);
      if (policy) this.#grants.set(domain, grant);
      else this.#grants.delete(domain);
      this.#warnedWider.delete(domain);
      this.#warnWider(domain, wider);
      if (mode === 'enforce') this.#toComponent(buildAdvertisement(domain, this.component.name, grant, adv.version, id));
      this.#audit.write({ component: this.component.name, domain, action: 'advertise', verdict: 'allowed', reason: 'advertise' });
    }
    const ctx = { component: compiled, server: this.#delegations };
    const gone: DelegatedIqTrack[] = [];
    this.#delegPending.forEach((_id, t) => {
      if (!effectiveDelegation(ctx, t.domain, t.namespace)) gone.push(t);
    });
    for (const t of gone) {
      this.#delegPending.take(t.id);
      this.#answerDelegated(t, 'delegation_removed');
    }
  }

  /** Deliver what arrived before the session existed (server first: its advertisements), then let both sides flow. */
  start(fromComponent: readonly Element[], fromServer: readonly Element[]): void {
    for (const el of fromServer) this.#fromServer(el);
    for (const el of fromComponent) this.#fromComponent(el);
    this.#server.resume('attach');
  }

  /**
   * Close both sides cleanly; with a condition, the component gets that stream
   * error. Delegated IQs the component will never answer are answered first
   * (XEP-0355 N.B.1), while the server's stream is still there.
   */
  close(condition?: StreamErrorCondition, text?: string): void {
    this.#beginClose();
    clearTimeout(this.#rateTimer);
    this.#nesting.close();
    this.#delegPending.drain((_id, t) => this.#answerDelegated(t, 'component_gone'));
    // The component is told before its stream closes: its privileged IQs get no answer now.
    this.#pending.drain((_id, p) => this.#answerPending(p, 'timeout'));
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
      this.#reportPending();
      this.#onClosed();
    }
  }

  // ── component → server ────────────────────────────────────────────────

  // The fast path's table look-ups, made once (not a closure per stanza).
  #isDelegationReply = (id: string): boolean => this.#delegPending.has(id) || this.#delegPending.closed(id);
  #isPrivilegedResponse = (id: string): boolean => this.#pending.has(id) || this.#pending.expired(id) !== undefined;

  /** The fast path: a stanza with nothing to judge but its root goes on as it arrived. */
  #framedFromComponent(f: FramedStanza): boolean {
    if (this.#state !== 'online') return false;
    if (!framedOutboundPasses(this.component.name, f, this.#isDelegationReply)) return false;
    this.#throttle();
    this.#metrics.stanza('to_server', f.name);
    this.#relay(this.#server, this.#client, f.xml);
    return true;
  }

  #fromComponent(el: Element): void {
    if (this.#state !== 'online') return;
    this.#throttle();
    const top = classifyTopLevel(el);
    if (top.kind === 'stream-error') {
      this.#log.warn({ component: this.component.name, condition: top.condition }, `component closed its stream with an error`);
      this.close();
      return;
    }
    const framing = checkComponentElement(this.component.name, top, el);
    if (framing.action === 'reject' && framing.streamError) {
      // Protocol rules, enforced in every mode (the server would close the stream too).
      this.#record(framing, el, 'denied', `stanza.${el.name}`);
      this.#log.warn({ component: this.component.name, reason: framing.reason }, `closing ${this.component.name}: ${framing.streamError.text}`);
      this.close(framing.streamError.condition, framing.streamError.text);
      return;
    }
    // Into the server's version before judging: decisions never see a version.
    const domain = domainOf(el.attrs.to);
    if (domain !== undefined) translate(el, this.#componentVersions(domain), this.#serverVersions.get(domain) ?? {});
    const t0 = this.#metrics.enabled ? process.hrtime.bigint() : 0n;
    const verdict = decideOutbound(
      {
        component: this.#compiled,
        grants: this.#grants,
        isPending: (id) => this.#pending.has(id),
        pendingFull: this.#pending.full,
        delegationPending: (id) => this.#delegPending.get(id),
        delegationClosed: (id) => this.#delegPending.closed(id),
      },
      el,
    );
    if (this.#metrics.enabled) this.#metrics.decisionTime(Number(process.hrtime.bigint() - t0) / 1e9);
    this.#applyOutbound(verdict, el);
    this.#reportPending();
  }

  #applyOutbound(v: Verdict, el: Element): void {
    if (v.settle) this.#delegPending.take(v.settle.id);
    if ((v.action === 'pass' || v.action === 'rewrite') && el.name === 'iq' && el.attrs.type === 'result') this.#nesting.answered(String(el.attrs.id));
    switch (v.action) {
      case 'pass':
        if (v.track?.kind === 'privileged_iq' && !this.#pending.add(v.track.id, { request: el, user: v.track.user, domain: v.track.domain })) {
          // Cannot happen after the decision checked both; never forward untracked.
          this.#relay(this.#client, this.#server, serialize(stanzaError(el, 'wait', 'resource-constraint', 'privguard: too many pending requests', this.component.name)));
          return;
        }
        if (v.audit) this.#record(v, el, 'allowed');
        this.#subscriptions.apply(changesToServer(el));
        this.#metrics.stanza('to_server', el.name);
        this.#relay(this.#server, this.#client, serialize(el));
        return;
      case 'reject':
      case 'drop':
        if (this.#mode === 'report') {
          this.#record(v, el, 'would_deny');
          this.#subscriptions.apply(changesToServer(el));
          this.#metrics.stanza('to_server', el.name);
          this.#relay(this.#server, this.#client, serialize(el));
          return;
        }
        this.#record(v, el, 'denied');
        this.#log.info({ component: this.component.name, reason: v.reason }, verdictText(v));
        for (const r of v.replies) this.#send(r.to, r.stanza);
        return;
      case 'rewrite':
        if (v.audit) this.#record(v, el, 'allowed');
        this.#metrics.stanza('to_server', el.name);
        this.#relay(this.#server, this.#client, serialize(v.stanza));
        return;
    }
  }

  // ── server → component ────────────────────────────────────────────────

  #framedFromServer(f: FramedStanza): boolean {
    if (this.#state !== 'online') return false;
    if (!framedInboundPasses(f, this.#isPrivilegedResponse)) return false;
    this.#metrics.stanza('to_component', f.name);
    this.#relay(this.#client, this.#server, f.xml);
    return true;
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
      this.#answerAllPending();
      this.close(condition, top.text);
      return;
    }
    const seen = detectVersions(el);
    if (seen) {
      this.#serverVersions.set(seen.domain, { ...this.#serverVersions.get(seen.domain), ...definedOnly(seen.versions) });
      if (el.name === 'message' && seen.versions.privilege !== undefined) {
        const adv = parseAdvertisement(el);
        if (adv) this.#serverAdvertisements.set(seen.domain, { adv, id: el.attrs.id as string | undefined });
      }
    }
    this.#subscriptions.apply(changesFromServer(el, this.#isManaged));
    const t0 = this.#metrics.enabled ? process.hrtime.bigint() : 0n;
    const verdict = decideInbound(
      {
        component: this.#compiled,
        grants: this.#grants,
        pendingUser: (id) => this.#pending.get(id)?.user,
        expiredUser: (id) => this.#pending.expired(id)?.user,
        delegations: this.#delegations,
        isDelegationPending: (id) => this.#delegPending.has(id),
        delegationPendingFull: this.#delegPending.full,
        subscriptions: this.#subscriptions,
      },
      el,
    );
    if (this.#metrics.enabled) this.#metrics.decisionTime(Number(process.hrtime.bigint() - t0) / 1e9);
    this.#applyInbound(verdict, el);
    this.#reportPending();
  }

  #applyInbound(v: Verdict, el: Element): void {
    if (v.learn) {
      const known = this.#delegations.get(v.learn.domain) ?? new Map<string, readonly string[]>();
      for (const [ns, attrs] of v.learn.delegated) known.set(ns, attrs);
      this.#delegations.set(v.learn.domain, known);
      this.#nesting.advertised(v.learn.domain);
    }
    switch (v.action) {
      case 'pass': {
        const id = el.attrs.id as string | undefined;
        if (el.name === 'iq' && id !== undefined && (el.attrs.type === 'result' || el.attrs.type === 'error')) this.#pending.take(id);
        if (v.track?.kind === 'delegated_iq' && !this.#trackDelegated(v.track)) return;
        if (el.name === 'presence' && this.#duplicatePresence(el)) return;
        if (id !== undefined && isNestingQuery(el)) this.#nesting.asked(id, domainOf(el.attrs.from) ?? '');
        if (v.audit) this.#record(v, el, 'allowed');
        this.#toComponent(el);
        return;
      }
      case 'rewrite':
        if (v.grant) {
          this.#grants.set(v.grant.domain, v.grant);
          this.#warnWider(v.grant.domain, v.wider ?? []);
        }
        this.#record(v, el, 'allowed');
        this.#toComponent(this.#mode === 'report' ? el : v.stanza);
        return;
      case 'drop':
      case 'reject':
        if (this.#mode === 'report') {
          if (v.track && !this.#trackDelegated(v.track)) return;
          this.#record(v, el, 'would_deny');
          this.#toComponent(el);
          return;
        }
        this.#record(v, el, 'denied');
        // Answered here: a reply the component sends for it later is no reply.
        if (v.track) this.#delegPending.markAnswered(v.track.id);
        for (const r of v.replies) this.#send(r.to, r.stanza);
        return;
    }
  }

  /** The versions the component speaks towards `domain` (`auto`: as the server there). */
  #componentVersions(domain: string): Versions {
    const server = this.#serverVersions.get(domain) ?? {};
    const { privilege, delegation } = this.#compiled.speaks;
    return {
      privilege: privilege === 'auto' ? server.privilege : privilege,
      delegation: delegation === 'auto' ? server.delegation : delegation,
    };
  }

  /** Send a server stanza (or privguard's rewrite of one) to the component, in the component's versions. */
  #toComponent(el: Element): void {
    this.#metrics.stanza('to_component', el.name);
    const domain = domainOf(el.attrs.from);
    if (domain !== undefined) translate(el, this.#serverVersions.get(domain) ?? {}, this.#componentVersions(domain));
    this.#relay(this.#client, this.#server, serialize(el));
  }

  /** The same presence again within a second is dropped (ejabberd 23.01 forwards privilege presence twice). */
  #duplicatePresence(el: Element): boolean {
    const now = Date.now();
    const key = serialize(el);
    const last = this.#recentPresence.get(key);
    this.#recentPresence.delete(key);
    this.#recentPresence.set(key, now);
    for (const [k, t] of this.#recentPresence) {
      if (now - t <= PRESENCE_DEDUP_MS && this.#recentPresence.size <= PRESENCE_DEDUP_MAX) break;
      this.#recentPresence.delete(k);
    }
    return last !== undefined && now - last <= PRESENCE_DEDUP_MS;
  }

  /** Remember a delegated IQ going to the component; if there is no room, answer it now. */
  #trackDelegated(t: DelegatedIqTrack): boolean {
    if (this.#delegPending.add(t.id, t)) return true;
    this.#relay(this.#server, this.#client, serialize(wrappedError(t.request, t.inner, t.version, 'resource-constraint')));
    return false;
  }

  /** Answer a delegated IQ in the component's place: the user gets service-unavailable. */
  #answerDelegated(t: DelegatedIqTrack, reason: 'timeout' | 'component_gone' | 'delegation_removed'): void {
    const from = t.inner.attrs.from as string | undefined;
    this.#audit.write({
      component: this.component.name,
      domain: t.domain,
      ...(from !== undefined ? { user: from.split('/')[0]! } : {}),
      action: 'delegation.forward',
      verdict: 'denied',
      reason,
      namespace: t.namespace,
      stanza_id: t.id,
    });
    if (this.#server.state === 'open') this.#server.write(serialize(wrappedError(t.request, t.inner, t.version, 'service-unavailable')));
  }

  #warnWider(domain: string, wider: string[]): void {
    if (wider.length === 0 || this.#warnedWider.has(domain)) return;
    this.#warnedWider.add(domain);
    this.#log.warn(
      { component: this.component.name, domain, wider },
      `the policy grants ${this.component.name} more on ${domain} than the server does (${wider.join('; ')}); the server's grant applies`,
    );
  }

  // ── pending privileged IQs ────────────────────────────────────────────

  /** Answer one pending privileged IQ ourselves (timeout, or the server is gone). */
  #answerPending(p: PendingPrivileged, reason: 'timeout'): void {
    const v = { reason, rule: null, subject: 'privileged iq' } as const;
    const text = verdictText(v);
    this.#audit.write({
      component: this.component.name,
      domain: p.domain,
      user: p.user.split('@')[0],
      action: `iq.${String(p.request.attrs.type)}`,
      verdict: 'denied',
      reason,
      ...(p.request.attrs.id !== undefined ? { stanza_id: String(p.request.attrs.id) } : {}),
    });
    this.#log.warn({ component: this.component.name, id: p.request.attrs.id as string | undefined }, text);
    this.#relay(this.#client, this.#server, serialize(stanzaError(p.request, 'wait', 'remote-server-timeout', text, this.component.name)));
  }

  #answerAllPending(): void {
    this.#pending.drain((_id, p) => this.#answerPending(p, 'timeout'));
  }

  // ── plumbing ──────────────────────────────────────────────────────────

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

  /** Keep the pending-IQ gauges in step with this session's tables. */
  #reportPending(): void {
    const now = { privileged: this.#state === 'closed' ? 0 : this.#pending.size, delegated: this.#state === 'closed' ? 0 : this.#delegPending.size };
    for (const table of ['privileged', 'delegated'] as const) {
      const d = now[table] - this.#reportedPending[table];
      if (d !== 0) this.#metrics.pending(table, d);
    }
    this.#reportedPending = now;
  }

  #record(v: Verdict, el: Element, verdict: AuditVerdict, action?: string): void {
    this.#metrics.decision(this.#mode, v.action, verdict, v.reason);
    const id = el.attrs.id as string | undefined;
    const a = v.audit;
    // Built field by field (no spread temporaries: this runs for every audited stanza).
    const record: AuditRecord = { component: this.component.name, action: action ?? a?.action ?? `stanza.${el.name}`, verdict, reason: v.reason };
    if (a?.domain !== undefined) record.domain = a.domain;
    if (a?.user !== undefined) record.user = a.user;
    if (v.rule) record.rule = v.rule.path;
    if (a?.namespace !== undefined) record.namespace = a.namespace;
    if (a?.field !== undefined) record.field = a.field;
    if (id !== undefined) record.stanza_id = id;
    this.#audit.write(record);
  }

  #send(to: 'component' | 'server', stanza: Element): void {
    if (to === 'component') this.#relay(this.#client, this.#server, serialize(stanza));
    else this.#relay(this.#server, this.#client, serialize(stanza));
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
