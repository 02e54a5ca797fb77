/**
 * One component ⇄ server link, without sockets: the state machine the proxy's
 * session drives (the "sans-I/O" shape of quinn-proto's Connection or h11).
 * Inputs: stanzas (parsed or framed) from either side, `reload`, `tick(now)`
 * and `close(why)`. Outputs: calls on the LinkEffects given at construction.
 * Time is the injected clock; nothing here starts a timer.
 *
 * It owns what decisions read and what verdicts change: the effective grants
 * and delegations learned from the server's advertisements on this link, the
 * namespace versions of both legs (translation both ways), both pending
 * tables, presence de-duplication, and report mode. policy/ decides; the link
 * applies the verdict, and every decision leaves as one DecisionEvent.
 */
import type { Element } from '@xmpp/xml';
import type { Mode } from '../config/schema.js';
import { classifyTopLevel } from '../protocol/classify.js';
import type { FramedStanza } from '../protocol/frame.js';
import { isStreamErrorCondition, type StreamErrorCondition } from '../protocol/ns.js';
import { buildAdvertisement, parseAdvertisement } from '../protocol/privilege.js';
import { cloneElement, serialize } from '../protocol/serialize.js';
import { checkComponentElement } from '../policy/addressing.js';
import type { CompiledComponent } from '../policy/compile.js';
import { effectiveDelegation, isNestingQuery } from '../policy/delegation.js';
import { framedInboundPasses, framedOutboundPasses, framedPrivilegedPass } from '../policy/framed.js';
import { effectiveGrant, type EffectiveGrant } from '../policy/grants.js';
import { decideInbound, type InboundContext } from '../policy/inbound.js';
import { decideOutbound, type OutboundContext } from '../policy/outbound.js';
import { changesFromServer, changesToServer, SubscriptionLedger } from '../policy/subscriptions.js';
import { verdictText, type DelegatedIqTrack, type Verdict } from '../policy/verdict.js';
import { answerDelegated, answerPrivileged, refuseDelegated, refusePrivileged, sendReplies, type PendingPrivileged } from './answers.js';
import { decisionEvent, type DecisionVerdict, type EndReason } from './decision.js';
import type { LinkEffects } from './effects.js';
import { PendingTable } from './pending.js';
import { PresenceDedup } from './presence.js';
import { inboundContext, outboundContext } from './contexts.js';
import { buildSnapshot, type LinkSnapshot, type LinkState } from './snapshot.js';
import { LinkVersions } from './versions.js';
import { delegationNeverActivatedText, NestingWatch } from './nesting-watch.js';

export interface LinkOptions {
  /** The component's name (its JID domain). */
  name: string;
  compiled: CompiledComponent;
  mode: Mode;
  pendingTimeoutMs: number;
  maxPending: number;
  /** Milliseconds on a monotonic clock (performance.now in the proxy; a fake one in tests and explain). */
  now: () => number;
  effects: LinkEffects;
  /** Report how long each judged stanza took to decide (effects.decisionTime). */
  timed?: boolean;
  /** Subscriptions seen for this component so far (the listener keeps them across reconnects). */
  subscriptions?: SubscriptionLedger;
}

export class Link {
  readonly name: string;
  #compiled: CompiledComponent;
  #mode: Mode;
  readonly #fx: LinkEffects;
  readonly #now: () => number;
  readonly #timed: boolean;
  #open = true;
  readonly #grants = new Map<string, EffectiveGrant>();
  readonly #warnedWider = new Set<string>();
  readonly #privileged: PendingTable<PendingPrivileged>;
  readonly #delegated: PendingTable<DelegatedIqTrack>;
  /** What the server delegated on this link: domain → namespace → attributes (additive). */
  readonly #delegations = new Map<string, Map<string, readonly string[]>>();
  /** Notices a server that never activates delegation (ejabberd #4336). */
  readonly #nesting = new NestingWatch();
  /** The server's privilege advertisements as it sent them (kept as copies: report mode translates in place), per domain. */
  readonly #advertisements = new Map<string, Element>();
  readonly #versions: LinkVersions;
  readonly #presence = new PresenceDedup();
  readonly #subscriptions: SubscriptionLedger;
  readonly #isManaged = (domain: string): boolean => this.#compiled.privileges.has(domain);
  // Decision contexts, built once: no closures per stanza.
  readonly #out: OutboundContext;
  readonly #in: InboundContext;

  constructor(opts: LinkOptions) {
    this.name = opts.name;
    this.#compiled = opts.compiled;
    this.#mode = opts.mode;
    this.#fx = opts.effects;
    this.#now = opts.now;
    this.#timed = opts.timed === true && opts.effects.decisionTime !== undefined;
    this.#privileged = new PendingTable(opts.maxPending, opts.pendingTimeoutMs);
    this.#delegated = new PendingTable(opts.maxPending, opts.pendingTimeoutMs);
    this.#versions = new LinkVersions(opts.compiled.speaks);
    this.#subscriptions = opts.subscriptions ?? new SubscriptionLedger();
    const tables = {
      compiled: opts.compiled,
      grants: this.#grants,
      privileged: this.#privileged,
      delegated: this.#delegated,
      delegations: this.#delegations,
      subscriptions: this.#subscriptions,
    };
    this.#out = outboundContext(tables);
    this.#in = inboundContext(tables);
  }

  get open(): boolean {
    return this.#open;
  }

  get mode(): Mode {
    return this.#mode;
  }

  get pendingPrivileged(): number {
    return this.#privileged.size;
  }

  get pendingDelegated(): number {
    return this.#delegated.size;
  }

  /** Server domains whose privilege advertisement arrived. */
  get advertised(): string[] {
    return [...this.#grants.keys()];
  }

  /** The earliest pending deadline on the link's clock (the driver's timer aims at it). */
  nextDeadline(): number | undefined {
    const a = this.#privileged.nextDeadline();
    const b = this.#delegated.nextDeadline();
    const c = this.#nesting.nextDeadline();
    const ab = a === undefined ? b : b === undefined ? a : Math.min(a, b);
    return ab === undefined ? c : c === undefined ? ab : Math.min(ab, c);
  }

  /** True while the link waits for a server's delegation advertisement (its driver must keep a timer). */
  get watching(): boolean {
    return this.#nesting.nextDeadline() !== undefined;
  }

  /** Three views per server domain, versions, and the pending tables (status page, `privguard test`). */
  snapshot(): LinkSnapshot {
    return buildSnapshot(this.name, this.#mode, this.#open, this.state(), this.#now());
  }

  /** The tables themselves, read-only: what the server advertised and delegated, versions, pending. */
  state(): LinkState {
    const [grants, advertisements, delegations, versions] = [this.#grants, this.#advertisements, this.#delegations, this.#versions] as const;
    return { compiled: this.#compiled, grants, advertisements, delegations, versions, privileged: this.#privileged, delegated: this.#delegated };
  }

  // ── time ──────────────────────────────────────────────────────────────

  /** Answer every pending IQ whose deadline has come. */
  tick(now: number): void {
    if (!this.#open) return;
    this.#privileged.expire(now, (p) => answerPrivileged(this.#fx, this.name, this.#mode, p, 'timeout'));
    this.#delegated.expire(now, (t) => answerDelegated(this.#fx, this.name, this.#mode, t, 'timeout'));
    for (const domain of this.#nesting.due(now)) {
      this.#fx.log('warn', { component: this.name, domain, bug: 'ejabberd#4336' }, delegationNeverActivatedText(domain));
    }
  }

  // ── reload ────────────────────────────────────────────────────────────

  /**
   * A new policy for this component. The server's cached advertisements go
   * through the same decision as a fresh one and the component is told the
   * result at once; delegated IQs pending under a delegation the new policy no
   * longer has are answered now (service-unavailable), exactly once.
   */
  reload(compiled: CompiledComponent, mode: Mode = this.#mode): void {
    this.#compiled = compiled;
    this.#mode = mode;
    this.#out.component = compiled;
    this.#in.component = compiled;
    this.#versions.setSpeaks(compiled.speaks);
    if (!this.#open) return;
    for (const [domain, adv] of this.#advertisements) {
      this.#warnedWider.delete(domain);
      const v = decideInbound(this.#in, cloneElement(adv));
      this.#fx.verdict?.(v, adv);
      if (v.action === 'rewrite' && v.grant) {
        this.#applyGrant(v.grant, v.wider ?? []);
        this.#record(v, adv, 'allowed');
        if (mode === 'enforce') this.#toComponent(v.stanza, undefined);
      } else {
        // A domain the policy no longer names: the component is told it has nothing there.
        this.#grants.delete(domain);
        this.#record(v, adv, mode === 'report' ? 'would_deny' : 'denied');
        const parsed = parseAdvertisement(adv);
        if (mode === 'enforce' && parsed) {
          const none = effectiveGrant(domain, parsed, undefined).grant;
          this.#toComponent(buildAdvertisement(domain, this.name, none, parsed.version, adv.attrs.id as string | undefined), undefined);
        }
      }
    }
    const ctx = { component: compiled, server: this.#delegations };
    const gone: DelegatedIqTrack[] = [];
    this.#delegated.forEach((_id, t) => {
      if (!effectiveDelegation(ctx, t.domain, t.namespace)) gone.push(t);
    });
    for (const t of gone) {
      this.#delegated.take(t.id);
      answerDelegated(this.#fx, this.name, this.#mode, t, 'delegation_removed');
    }
  }

  // ── close ─────────────────────────────────────────────────────────────

  /**
   * End the link: every pending IQ is answered once, to whichever side is
   * still there (XEP-0355 N.B.1: the server learns the component will not
   * answer), then the streams are closed — the component's with `condition`.
   */
  close(why: EndReason, condition?: StreamErrorCondition, text?: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#delegated.drain((t) => answerDelegated(this.#fx, this.name, this.#mode, t, why));
    this.#privileged.drain((p) => answerPrivileged(this.#fx, this.name, this.#mode, p, why));
    this.#fx.closeStreams(condition, text);
  }

  // ── component → server ────────────────────────────────────────────────

  readonly #isDelegationReply = (id: string): boolean => this.#delegated.has(id) || this.#delegated.closed(id);
  readonly #isPrivilegedResponse = (id: string): boolean => this.#privileged.has(id) || this.#privileged.expired(id) !== undefined;

  /** The fast path: true if the stanza went on as it arrived (nothing in it is judged but its root, or a privileged message that passes). */
  framedFromComponent(f: FramedStanza): boolean {
    if (!this.#open) return false;
    if (f.privileged !== undefined) return this.#framedPrivileged(f);
    if (!framedOutboundPasses(this.name, f, this.#isDelegationReply)) return false;
    this.#fx.toServer(f.xml, f.name);
    return true;
  }

  /**
   * A privileged message without a tree, by the full path's own decision, taken only when it passes as
   * it arrived (then the full path would just record it and forward it). A refusal (its reply needs the
   * tree), a component that may need translating, and explain (its verdict log wants the tree) go back.
   */
  #framedPrivileged(f: FramedStanza): boolean {
    if (this.#versions.translates || this.#fx.verdict !== undefined) return false;
    const t0 = this.#timed ? process.hrtime.bigint() : 0n;
    const v = framedPrivilegedPass(this.#out, this.name, f);
    if (v === undefined) return false;
    if (this.#timed) this.#fx.decisionTime!(Number(process.hrtime.bigint() - t0) / 1e9);
    this.#recordOn(v, f.name, f.attr('id'), 'allowed');
    this.#fx.toServer(f.xml, f.name);
    return true;
  }

  /**
   * A component stanza, parsed. `raw`: its characters as they arrived, when
   * they read as exactly this tree (protocol/parser.ts); a stanza that passes
   * untouched (not translated, not rewritten) is forwarded as those, which
   * saves serialising what was judged into the same tree again.
   */
  fromComponent(el: Element, raw?: string): void {
    if (!this.#open) return;
    const top = classifyTopLevel(el);
    if (top.kind === 'stream-error') {
      this.#fx.log('warn', { component: this.name, condition: top.condition }, 'component closed its stream with an error');
      this.close('component_gone');
      return;
    }
    const framing = checkComponentElement(this.name, top, el);
    if (framing.action === 'reject' && framing.streamError) {
      // Protocol rules, enforced in every mode (the server would close the stream too).
      this.#fx.verdict?.(framing, el);
      this.#record(framing, el, 'denied', `stanza.${el.name}`);
      this.#fx.log('warn', { component: this.name, reason: framing.reason }, `closing ${this.name}: ${framing.streamError.text}`);
      this.close('component_gone', framing.streamError.condition, framing.streamError.text);
      return;
    }
    // Into the server's version before judging: decisions never see a version.
    const wire = this.#versions.toServer(el) ? undefined : raw;
    const t0 = this.#timed ? process.hrtime.bigint() : 0n;
    const v = decideOutbound(this.#out, el);
    if (this.#timed) this.#fx.decisionTime!(Number(process.hrtime.bigint() - t0) / 1e9);
    this.#fx.verdict?.(v, el);
    this.#applyOutbound(v, el, wire);
  }

  /** `wire`: el's characters as they arrived, if they read as el (else it is serialised). */
  #applyOutbound(v: Verdict, el: Element, wire: string | undefined): void {
    if (v.settle?.kind === 'delegated_iq') this.#delegated.take(v.settle.id);
    if ((v.action === 'pass' || v.action === 'rewrite') && el.name === 'iq' && el.attrs.type === 'result') this.#nesting.answered(String(el.attrs.id), this.#now());
    switch (v.action) {
      case 'pass':
        if (v.track?.kind === 'privileged_iq') {
          const p: PendingPrivileged = { request: el, user: v.track.user, domain: v.track.domain, namespace: v.audit?.namespace };
          if (!this.#privileged.add(v.track.id, p, this.#now())) {
            // Cannot happen after the decision checked both; never forward untracked.
            refusePrivileged(this.#fx, this.name, el);
            return;
          }
        }
        if (v.audit) this.#record(v, el, 'allowed');
        this.#subscriptions.apply(changesToServer(el));
        this.#fx.toServer(wire ?? serialize(el), el.name);
        return;
      case 'reject':
      case 'drop':
        if (this.#mode === 'report' && !(v.action === 'reject' && v.enforced)) {
          this.#record(v, el, 'would_deny');
          this.#subscriptions.apply(changesToServer(el));
          this.#fx.toServer(wire ?? serialize(el), el.name);
          return;
        }
        this.#record(v, el, 'denied');
        this.#fx.log('info', { component: this.name, reason: v.reason }, verdictText(v));
        sendReplies(this.#fx, v.replies);
        return;
      case 'rewrite':
        if (v.audit) this.#record(v, el, 'allowed');
        this.#fx.toServer(serialize(v.stanza), el.name);
        return;
    }
  }

  // ── server → component ────────────────────────────────────────────────

  framedFromServer(f: FramedStanza): boolean {
    if (!this.#open || !framedInboundPasses(f, this.#isPrivilegedResponse)) return false;
    this.#fx.toComponent(f.xml, f.name);
    return true;
  }

  fromServer(el: Element): void {
    if (!this.#open) return;
    const top = classifyTopLevel(el);
    if (top.kind === 'stream-error') {
      const condition = top.condition && isStreamErrorCondition(top.condition) ? top.condition : 'remote-connection-failed';
      this.#fx.log(
        'warn',
        { component: this.name, condition: top.condition },
        `the server closed ${this.name}'s stream: ${top.condition ?? 'stream error'}${top.text ? ` (${top.text})` : ''}`,
      );
      this.close('server_gone', condition, top.text);
      return;
    }
    const seen = this.#versions.learn(el);
    if (seen && el.name === 'message' && seen.versions.privilege !== undefined && parseAdvertisement(el)) {
      this.#advertisements.set(seen.domain, cloneElement(el));
    }
    this.#subscriptions.apply(changesFromServer(el, this.#isManaged));
    const t0 = this.#timed ? process.hrtime.bigint() : 0n;
    const v = decideInbound(this.#in, el);
    if (this.#timed) this.#fx.decisionTime!(Number(process.hrtime.bigint() - t0) / 1e9);
    this.#fx.verdict?.(v, el);
    this.#applyInbound(v, el);
  }

  #applyInbound(v: Verdict, el: Element): void {
    if (v.settle?.kind === 'privileged_iq') {
      // The server sent the component's request back instead of answering it (ejabberd #4347): answered
      // here in every mode, as no answer will come; the copy is not a request of the server's.
      const p = this.#privileged.take(v.settle.id);
      if (p) answerPrivileged(this.#fx, this.name, this.#mode, p, 'looped_request');
      return;
    }
    if (v.learn) {
      const known = this.#delegations.get(v.learn.domain) ?? new Map<string, readonly string[]>();
      for (const [ns, attrs] of v.learn.delegated) known.set(ns, attrs);
      this.#delegations.set(v.learn.domain, known);
      this.#nesting.advertised(v.learn.domain);
    }
    switch (v.action) {
      case 'pass': {
        const id = el.attrs.id as string | undefined;
        if (el.name === 'iq' && id !== undefined && (el.attrs.type === 'result' || el.attrs.type === 'error')) this.#privileged.take(id);
        if (v.track?.kind === 'delegated_iq' && !this.#trackDelegated(v.track)) return;
        if (el.name === 'presence' && this.#presence.duplicate(serialize(el), this.#now())) return;
        if (id !== undefined && isNestingQuery(el)) this.#nesting.asked(id, String(el.attrs.from));
        if (v.audit) this.#record(v, el, 'allowed');
        this.#toComponent(el, el.name);
        return;
      }
      case 'rewrite':
        if (v.grant) this.#applyGrant(v.grant, v.wider ?? []);
        this.#record(v, el, 'allowed');
        this.#toComponent(this.#mode === 'report' ? el : v.stanza, el.name);
        return;
      case 'drop':
      case 'reject':
        if (this.#mode === 'report') {
          if (v.track && !this.#trackDelegated(v.track)) return;
          this.#record(v, el, 'would_deny');
          this.#toComponent(el, el.name);
          return;
        }
        this.#record(v, el, 'denied');
        // Answered here: a reply the component sends for it later is no reply.
        if (v.track) this.#delegated.markAnswered(v.track.id);
        sendReplies(this.#fx, v.replies);
        return;
      case 'filter': {
        // Content outside the component's scopes: a reduced stanza (or none) goes on.
        const id = el.attrs.id as string | undefined;
        if (el.name === 'iq' && id !== undefined && el.attrs.type === 'result') this.#privileged.take(id);
        if (this.#mode === 'report') {
          this.#record(v, el, 'would_filter');
          this.#toComponent(el, el.name);
          return;
        }
        this.#record(v, el, 'filtered');
        if (v.stanza) this.#toComponent(v.stanza, el.name);
        sendReplies(this.#fx, v.replies);
        return;
      }
    }
  }

  /** A server stanza (or privguard's rewrite of one) to the component, in the component's versions. */
  #toComponent(el: Element, kind: string | undefined): void {
    this.#versions.toComponent(el);
    this.#fx.toComponent(serialize(el), kind);
  }

  #applyGrant(grant: EffectiveGrant, wider: string[]): void {
    this.#grants.set(grant.domain, grant);
    if (wider.length === 0 || this.#warnedWider.has(grant.domain)) return;
    this.#warnedWider.add(grant.domain);
    this.#fx.log(
      'warn',
      { component: this.name, domain: grant.domain, wider },
      `the policy grants ${this.name} more on ${grant.domain} than the server does (${wider.join('; ')}); the server's grant applies`,
    );
  }

  /** Remember a delegated IQ going to the component; if there is no room, answer it now (and remember that). */
  #trackDelegated(t: DelegatedIqTrack): boolean {
    if (this.#delegated.add(t.id, t, this.#now())) return true;
    this.#delegated.markAnswered(t.id);
    refuseDelegated(this.#fx, t);
    return false;
  }

  #record(v: Verdict, el: Element, verdict: DecisionVerdict, subject?: string): void {
    this.#recordOn(v, el.name, el.attrs.id as string | undefined, verdict, subject);
  }

  /** The decision event of verdict `v` on a stanza named `name` with id `id` (a tree or a framed stanza). */
  #recordOn(v: Verdict, name: string, id: string | undefined, verdict: DecisionVerdict, subject?: string): void {
    const a = v.audit;
    this.#fx.decision(decisionEvent(this.name, this.#mode, v.action, verdict, v.reason, subject ?? a?.action ?? `stanza.${name}`, a, v.rule?.path, id));
  }
}
